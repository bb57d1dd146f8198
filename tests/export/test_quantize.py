"""INT8 copies: static quantisation keeps the answers of a small convolution network close to
its FP32 file's, keeps the dermaseg metadata (marked int8) and opens like any model file."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from dermaseg.core.onnxfile import open_session, write_metadata  # noqa: E402
from dermaseg.export.quantize import quantize_int8  # noqa: E402


def _small_classifier(path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU6(),
        torch.nn.Conv2d(16, 16, 3, padding=1, groups=16), torch.nn.ReLU6(),
        torch.nn.Conv2d(16, 32, 1), torch.nn.ReLU6(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 4)).eval()
    torch.onnx.export(net, torch.zeros(1, 3, 32, 32), str(path), input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}}, opset_version=17, dynamo=False)
    write_metadata(path, {"format": "dermaseg-onnx-v1", "task": "classification", "classes": list("abcd"),
                          "model": {"backbone": "small"}})


def _run(session, x):
    return session.run(None, {"image": x})[0]


def test_int8_copy_answers_close_to_fp32_and_keeps_its_metadata(tmp_path, monkeypatch):
    monkeypatch.setenv("DERMASEG_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "small.onnx"
    _small_classifier(source)
    rng = np.random.default_rng(0)
    calibration = [rng.uniform(-1, 1, (8, 3, 32, 32)).astype(np.float32) for _ in range(4)]
    out = quantize_int8(source, tmp_path / "small.int8.onnx", calibration, batch_size=8)

    fp32, meta32 = open_session(source)
    int8, meta8 = open_session(out)
    assert meta8["model"]["precision"] == "int8" and meta8["classes"] == meta32["classes"]
    assert meta8["provenance"]["quantized_from"]["file"] == "small.onnx"
    assert meta8["provenance"]["quantized_from"]["calibration_inputs"] == 32
    quantised_ops = {n.op_type for n in __import__("onnx").load(str(out)).graph.node}
    assert "QuantizeLinear" in quantised_ops and "DequantizeLinear" in quantised_ops
    x = rng.uniform(-1, 1, (16, 3, 32, 32)).astype(np.float32)
    a, b = _run(fp32, x), _run(int8, x)
    spread = np.abs(a).max()
    assert np.abs(a - b).max() < 0.05 * spread   # close to the FP32 answers ...
    assert not np.array_equal(a, b)              # ... and really computed another way


def test_a_file_without_dermaseg_metadata_is_refused(tmp_path):
    source = tmp_path / "plain.onnx"
    _small_classifier(source)
    import onnx

    proto = onnx.load(str(source))
    del proto.metadata_props[:]
    onnx.save(proto, str(source))
    with pytest.raises(ValueError, match="plain.onnx: ONNX file has no dermaseg metadata"):
        quantize_int8(source, tmp_path / "out.onnx", [np.zeros((8, 3, 32, 32), np.float32)], batch_size=8)
