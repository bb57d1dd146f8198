"""One PyTorch model-file format for both tasks, and the earlier per-task files still read."""

from __future__ import annotations

import pytest
from support import REPO

torch = pytest.importorskip("torch")

WEIGHTS = REPO / "src" / "dermaseg" / "weights"


def test_both_tasks_write_one_format_and_read_back(tmp_path):
    from dermaseg.classify.modelfile import read_classifier, save_classifier
    from dermaseg.core import torchfile
    from dermaseg.segment.modelfile import read_model_file, save_model_file

    net = torch.nn.Conv2d(3, 2, 1)
    config = {"model": {"arch": "unet", "encoder": "resnet18", "dropout": 0.1}, "pipeline": {"size": 64}}
    seg = save_model_file(tmp_path / "seg.pt", net.state_dict(), config, threshold=0.4)
    cls = save_classifier(tmp_path / "cls.pt", net, backbone="efficientnet-lite0", class_names=["a", "b"],
                          task="melanoma", dropout=0.2, pipeline={"size": 64}, tta_views=2)
    for path, task in ((seg, "segmentation"), (cls, "classification")):
        raw = torch.load(path, weights_only=False)
        assert raw["format"] == torchfile.FORMAT and raw["task"] == task
        assert raw["state_dict"]["weight"].dtype == torch.float16
    s, c = read_model_file(seg), read_classifier(cls)
    assert s["threshold"] == 0.4 and s["model"]["decoder_channels"] is None
    assert c["label_task"] == "melanoma" and c["class_names"] == ["a", "b"]
    assert c["state_dict"]["weight"].dtype == torch.float32
    assert torch.allclose(c["state_dict"]["weight"], net.weight.detach(), atol=1e-3)
    with pytest.raises(ValueError, match=r"seg.pt: a segmentation model, not a classification model"):
        read_classifier(seg)
    with pytest.raises(ValueError, match=r"cls.pt: a classification model, not a segmentation model"):
        read_model_file(cls)
    (tmp_path / "junk.pt").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match=r"junk.pt: not a dermaseg model file"):
        read_model_file(tmp_path / "junk.pt")


@pytest.mark.parametrize("name,task", [("isic_unet_lite0.pt", "segmentation"),
                                       ("classifier_ham10000_lite0.pt", "classification"),
                                       ("classifier_ham10000_lite1.pt", "classification")])
def test_shipped_files_read_in_the_current_shape(name, task):
    from dermaseg.core import torchfile

    data = torchfile.read(WEIGHTS / name)
    assert data["task"] == task and data["format"] == torchfile.FORMAT
    if task == "classification":
        assert data["label_task"] == "auto" and len(data["class_names"]) == 7
    else:
        assert 0 < data["threshold"] < 1 and data["model"]["arch"]
