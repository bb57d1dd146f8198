"""The ONNX session's optimised graph is cached per file and CPU: later starts load it, with the
same results; a damaged cache entry is optimised afresh; no writable cache changes nothing; a precision ONNX Runtime cannot run is refused."""

from __future__ import annotations

import numpy as np
import pytest

from dermaseg.core.onnxfile import open_session, optimised_graph_path
from dermaseg.core.zoo import resolve


def _run(session, x):
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_the_optimised_graph_is_cached_and_gives_the_same_results(tmp_path, monkeypatch):
    monkeypatch.setenv("DERMASEG_CACHE", str(tmp_path / "cache"))
    model = resolve(None, "segmentation").path
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    first, meta = open_session(model)
    cached = optimised_graph_path(model)
    assert cached.is_file() and cached.parent == tmp_path / "cache" / "onnx"
    second, meta2 = open_session(model)
    assert meta2 == meta and np.array_equal(_run(first, x), _run(second, x))
    cached.write_bytes(b"damaged")
    third, _ = open_session(model)
    assert np.array_equal(_run(third, x), _run(first, x)) and cached.stat().st_size > 1000


def test_without_a_writable_cache_the_session_opens_as_before(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DERMASEG_CACHE", str(blocker))
    model = resolve(None, "segmentation").path
    assert optimised_graph_path(model) is None
    session, meta = open_session(model)
    assert meta["task"] == "segmentation"


def test_a_precision_onnx_runtime_cannot_honour_is_refused_not_ignored():
    model = resolve(None, "segmentation").path
    with pytest.raises(ValueError, match="bf16.*OpenVINO"):
        open_session(model, runtime="onnxruntime", precision="bf16")
    session, _ = open_session(model, runtime="onnxruntime", precision="fp32")   # what it runs anyway
    assert session.get_inputs()[0].shape[1] == 3
