"""ONNX export of a segmentation model file, with its pipeline and threshold as metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def export_onnx(model_path: Path | str, out_path: Path | str, *, opset: int = 17, dynamic: bool = True,
                check: bool = True) -> Path:
    import onnx
    import torch

    from dermaseg.checkpoint import build_from_file

    model, meta = build_from_file(model_path)
    size = int(meta["pipeline"].get("size", 256))
    dummy = torch.zeros(1, 3, size, size)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    axes = {"image": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch", 2: "height", 3: "width"}} \
        if dynamic else None
    torch.onnx.export(model, dummy, str(out_path), input_names=["image"], output_names=["logits"],
                      dynamic_axes=axes, opset_version=opset, dynamo=False)
    proto = onnx.load(str(out_path))
    info = dict(meta.get("info", {}))
    info["source"] = str(Path(model_path).name)
    payload = {"model": meta["model"], "pipeline": meta["pipeline"], "threshold": meta["threshold"], "info": info}
    entry = proto.metadata_props.add()
    entry.key, entry.value = "dermaseg", json.dumps(payload)
    onnx.save(proto, str(out_path))
    if check:
        onnx.checker.check_model(str(out_path))
        import onnxruntime as ort

        sess = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
        with torch.inference_mode():
            ref = model(torch.from_numpy(x)).numpy()
        got = sess.run(None, {"image": x})[0]
        err = float(np.abs(ref - got).max())
        if err > 1e-3:
            raise RuntimeError(f"{out_path}: ONNX output differs from PyTorch by {err:.2e}")
    return out_path
