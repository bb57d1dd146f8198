"""OpenVINO runs the shipped .onnx files: the metadata read from the file's bytes is what ONNX
Runtime reads, FP32 gives ONNX Runtime's outputs, bfloat16 stays close, and the classifier names
the runtime and precision it ran."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("openvino")

from dermaseg.classify.predict import load_classifier  # noqa: E402
from dermaseg.core.onnxfile import metadata_of_file, open_session  # noqa: E402
from dermaseg.core.openvino_session import native_bf16  # noqa: E402

BF16 = "bf16" if native_bf16() else "fp32"   # where the CPU has no bfloat16, OpenVINO runs FP32 and says so
from dermaseg.core.zoo import WEIGHTS_DIR, resolve  # noqa: E402


def test_metadata_read_from_the_bytes_is_onnx_runtimes(tmp_path):
    files = sorted(WEIGHTS_DIR.glob("*.onnx"))
    assert len(files) >= 3
    for path in files:
        assert metadata_of_file(path) == open_session(path)[1], path
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"\x0b not protobuf")
    with pytest.raises(ValueError, match="model.onnx"):
        metadata_of_file(broken)


def test_fp32_matches_onnx_runtime_and_bf16_stays_close(tmp_path, monkeypatch):
    monkeypatch.setenv("DERMASEG_CACHE", str(tmp_path / "cache"))
    model = resolve("ham10000-lite0", "classification").path
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 192, 192)).astype(np.float32)
    ort_session, meta = open_session(model)
    expected = ort_session.run(None, {"image": x})[0]
    fp32, meta_ov = open_session(model, threads=1, runtime="openvino", precision="fp32")
    assert meta_ov == meta and fp32.precision == "fp32"
    assert np.allclose(fp32.run(None, {fp32.get_inputs()[0].name: x})[0], expected, atol=1e-4)
    bf16, _ = open_session(model, threads=1, runtime="openvino", precision="bf16")
    got = bf16.run(None, {"image": x})[0]
    assert bf16.precision == BF16
    assert BF16 == "fp32" or not np.array_equal(got, expected)   # it did run at lower precision
    assert np.abs(got - expected).max() < 0.1 * np.abs(expected).max()
    assert any((tmp_path / "cache" / "openvino").iterdir())   # compiled networks are cached


def test_the_classifier_names_its_runtime_and_refuses_unknown_ones():
    images = [np.random.default_rng(i).integers(0, 255, (300, 400, 3), dtype=np.uint8) for i in range(2)]
    onnx = load_classifier("ham10000-lite0", backend="onnx", tta_views=2)
    fp32 = load_classifier("ham10000-lite0", backend="openvino", precision="fp32", tta_views=2)
    assert (onnx.backend_name, fp32.backend_name) == ("onnxruntime", "openvino-fp32")
    assert np.allclose(onnx.predict_proba(images), fp32.predict_proba(images), atol=1e-5)
    with pytest.raises(ValueError, match="backend"):
        load_classifier("ham10000-lite0", backend="tensorrt")
    with pytest.raises(ValueError, match="precision"):
        load_classifier("ham10000-lite0", backend="openvino", precision="int4")


def test_an_ensemble_file_names_the_runtime_its_members_run_on(tmp_path):
    import json

    about = {"members": ["ham10000-lite0", "ham10000-lite1"], "tta_views": 1,
             "runtime": {"backend": "openvino", "precision": "fp32"}}
    (tmp_path / "ensemble.json").write_text(json.dumps(about))
    assert load_classifier(str(tmp_path / "ensemble.json")).backend_name == "openvino-fp32"
    # the caller's choice wins over the file's
    assert load_classifier(str(tmp_path / "ensemble.json"), backend="onnx").backend_name == "onnxruntime"
    assert load_classifier(str(tmp_path / "ensemble.json"), precision="bf16").backend_name == f"openvino-{BF16}"
    del about["runtime"]
    (tmp_path / "ensemble.json").write_text(json.dumps(about))
    assert load_classifier(str(tmp_path / "ensemble.json")).backend_name == "onnxruntime"


def test_the_segmenter_runs_on_openvino_when_asked(tmp_path):
    import json

    from dermaseg.cli import main
    from dermaseg.data import sample_image
    from dermaseg.data.io import read_image
    from dermaseg.segment.segmenter import Segmenter

    image = read_image(sample_image())
    onnx, fp32 = Segmenter(), Segmenter(backend="openvino", precision="fp32")
    assert (onnx.backend_name, fp32.backend_name) == ("onnxruntime", "openvino-fp32")
    assert np.array_equal(onnx.segment(image).mask, fp32.segment(image).mask)
    assert main(["predict", str(sample_image()), "--runtime", "openvino", "--out", str(tmp_path / "p")]) == 0
    summary = json.loads((tmp_path / "p" / "measurements.json").read_text())["summary"]
    assert summary["backend"] == f"openvino-{BF16}"
