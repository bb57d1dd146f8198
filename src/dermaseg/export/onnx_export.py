"""ONNX export of a segmentation or classification model file, with the metadata inference needs.

`dermaseg export --shipped` regenerates every shipped ONNX file from its PyTorch weights; run
it whenever a shipped .pt changes. Metadata fields: dermaseg.core.onnxfile.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dermaseg.core.onnxfile import FORMAT, write_metadata
from dermaseg.core.provenance import source_commit
from dermaseg.core.zoo import SHIPPED, ShippedModel



def _file_task(path: Path) -> str:
    from dermaseg.core import torchfile

    return torchfile.task_of(torchfile.load_raw(path)) or "segmentation"   # else a Lightning checkpoint


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _provenance(info: dict, source: Path, shipped: ShippedModel | None) -> dict:
    return {
        "training_data": info.get("training_data") or info.get("data_root"),
        "recipe": info.get("recipe_file") or (shipped.recipe if shipped else None),
        "recipe_notes": info.get("recipe"),
        "commit": info.get("commit"),          # the training run's commit, when the .pt recorded it
        "export_commit": source_commit(),
        "source": source.name,
        # lets a test notice a shipped .pt replaced without `dermaseg export --shipped`
        "source_sha256": _sha256(source),
    }


def _held_out(info: dict, task: str) -> dict | None:
    if isinstance(info.get("held_out"), dict):
        return info["held_out"]
    if task == "classification" and isinstance(info.get("test"), dict):
        return {"split": "test", **info["test"]}
    if task == "segmentation" and "best_val_dice" in info:
        return {"split": "validation", "dice": info["best_val_dice"]}
    return None


def export_onnx(model_path: Path | str, out_path: Path | str, *, opset: int = 17, dynamic: bool = True,
                check: bool = True, name: str | None = None) -> Path:
    """Export a segmentation (.pt/.ckpt) or classification (.pt) model file to ONNX with metadata."""
    model_path = Path(model_path)
    shipped = SHIPPED.get(name) if name else next(
        (m for m in SHIPPED.values() if m.torch_path == model_path.resolve()), None)
    if _file_task(model_path) == "classification":
        model, meta, payload = _classifier(model_path, shipped)
    else:
        model, meta, payload = _segmenter(model_path, shipped)
    size = int(payload["pipeline"].get("size", 256))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    _trace(model, tmp, size, opset, dynamic, spatial_output=payload["task"] == "segmentation")
    write_metadata(tmp, payload)
    if check:
        _check(model, tmp, size, batch=2 if dynamic else 1)
    tmp.replace(out_path)
    return out_path


def export_shipped(opset: int = 17) -> list[Path]:
    """Regenerate every shipped ONNX file from its PyTorch weights (an ensemble has none of its own)."""
    return [export_onnx(m.torch_path, m.onnx_path, opset=opset, name=m.name)
            for m in SHIPPED.values() if not m.is_ensemble]


def _segmenter(path: Path, shipped: ShippedModel | None):
    from dermaseg.segment.modelfile import build_from_file

    model, meta = build_from_file(path)
    info = dict(meta.get("info", {}))
    pipeline = {k: v for k, v in meta["pipeline"].items() if k != "augment"}
    payload = {
        "format": FORMAT, "task": "segmentation",
        "name": shipped.name if shipped else info.get("name", path.stem),
        "version": str(info.get("version", "unversioned")),
        "classes": ["lesion"], "pipeline": pipeline, "threshold": float(meta["threshold"]),
        "model": meta["model"], "provenance": _provenance(info, path, shipped),
        "held_out": _held_out(info, "segmentation"), "info": {**info, "source": path.name},
    }
    return model, meta, payload


def _classifier(path: Path, shipped: ShippedModel | None):
    from dermaseg.classify.modelfile import build_from_classifier_file

    model, meta = build_from_classifier_file(path)
    info = dict(meta.get("info") or {})
    pipeline = {k: v for k, v in meta["pipeline"].items() if k != "augment"}
    shift = meta.get("logit_shift")
    payload = {
        "format": FORMAT, "task": "classification",
        "name": shipped.name if shipped else path.stem,
        "version": str(info.get("version", "unversioned")),
        "classes": list(meta["class_names"]), "pipeline": pipeline, "threshold": None,
        "model": {"backbone": meta["backbone"], "label_task": meta.get("label_task", "auto"),
                  "tta_views": int(meta.get("tta_views", 1)), "crop": meta.get("crop"),
                  "logit_shift": [float(v) for v in shift] if shift is not None else None,
                  "temperature": meta.get("temperature")},
        "provenance": _provenance(info, path, shipped),
        "held_out": _held_out(info, "classification"), "info": info,
    }
    return model, meta, payload


def _trace(model, out: Path, size: int, opset: int, dynamic: bool, spatial_output: bool) -> None:
    import torch

    logits_axes = {0: "batch", 2: "height", 3: "width"} if spatial_output else {0: "batch"}
    axes = {"image": {0: "batch", 2: "height", 3: "width"}, "logits": logits_axes} if dynamic else None
    with torch.inference_mode():
        torch.onnx.export(model, torch.zeros(1, 3, size, size), str(out), input_names=["image"],
                          output_names=["logits"], dynamic_axes=axes, opset_version=opset, dynamo=False)


def _check(model, path: Path, size: int, batch: int) -> None:
    import onnx
    import onnxruntime as ort
    import torch

    onnx.checker.check_model(str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    with torch.inference_mode():
        ref = model(torch.from_numpy(x)).numpy()
    got = sess.run(None, {"image": x})[0]
    err = float(np.abs(ref - got).max())
    if err > 1e-3:
        raise RuntimeError(f"{path}: ONNX output differs from PyTorch by {err:.2e}")
