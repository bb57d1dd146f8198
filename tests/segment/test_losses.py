"""Segmentation losses reward the right mask; Mask R-CNN trains on its own losses."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install



pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_maskrcnn_trains_on_its_detection_losses():
    """The training step of a detector sums its own losses (the pixel loss would leave the RPN
    and box regressor untrained)."""
    from support import REPO

    from dermaseg.segment.config import load_config
    from dermaseg.segment.module import SegmentationModule

    config = load_config(REPO / "configs" / "isic2017_unet_lite0.yaml",
                         ["model.arch=maskrcnn", "model.encoder=resnet50", "model.encoder_weights=null",
                          "model.decoder_channels=null"])
    module = SegmentationModule(config)
    masks = torch.zeros(2, 1, 64, 64)
    masks[:, 0, 10:40, 12:50] = 1
    seen = {}

    def spy(images, target):
        seen["losses"] = losses = original(images, target)
        return losses

    original, module.model.detection_loss = module.model.detection_loss, spy
    torch.manual_seed(0)
    out = module.training_step({"image": torch.randn(2, 3, 64, 64), "mask": masks}, 0)
    assert set(seen["losses"]) >= {"loss_objectness", "loss_classifier", "loss_mask"}
    assert torch.isclose(out["loss"], sum(seen["losses"].values())) and out["loss"].requires_grad
    assert torch.isnan(out["dice"])  # the detector's training path gives no masks to score


@pytest.mark.parametrize("name", ["bce+dice", "lovasz", "bce+lovasz", "focal", "tversky"])
def test_losses_reward_the_right_mask(name):
    from dermaseg.segment.losses import build_loss

    target = torch.zeros(2, 1, 32, 32)
    target[0, 0, 8:20, 8:24] = 1
    target[1, 0, 2:6, 2:6] = 1  # a small lesion weighs as much per image under the Lovasz hinge
    loss = build_loss(name)
    right, wrong = loss(8 * (2 * target - 1), target), loss(-8 * (2 * target - 1), target)
    half = target.clone()
    half[0, 0, 8:20, 16:24] = 0
    assert float(right) < float(loss(8 * (2 * half - 1), target)) < float(wrong)
    assert float(right) < 0.05
