"""The PyTorch model file of both tasks: one header, a `task` field, fp16 weights.

    format      "dermaseg-model-v2"
    task        "segmentation" | "classification"
    pipeline    preprocessing (dermaseg.transforms.pipeline.PipelineConfig fields)
    info        provenance and figures (free-form)
    state_dict  the network's weights, float16 on disk, float32 once read
and what the task needs beside them:
    segmentation    model (arch, encoder, dropout, decoder_channels), threshold
    classification  backbone, dropout, class_names, label_task (auto | melanoma), tta_views,
                    crop, logit_shift and temperature (set by `dermaseg classify calibrate`)

Files of the two earlier per-task formats (dermaseg-segmentation-v1, dermaseg-classifier-v1,
whose `task` named the label task) read into the same shape. torch is imported only here,
inside the functions: the inference install reads ONNX files (dermaseg.core.onnxfile) instead.
"""

from __future__ import annotations

import os
from pathlib import Path

FORMAT = "dermaseg-model-v2"
TASKS = ("segmentation", "classification")
_EARLIER = {"dermaseg-segmentation-v1": "segmentation", "dermaseg-classifier-v1": "classification"}


def save(path: Path | str, task: str, header: dict, state_dict: dict, *, fp16: bool = True) -> Path:
    """Write a model file atomically (a reader never sees half a file)."""
    import torch

    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = {k: (v.half() if fp16 and v.is_floating_point() else v).contiguous().clone()
               for k, v in state_dict.items()}
    body = {k: v for k, v in header.items() if k not in ("format", "task", "state_dict")}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save({"format": FORMAT, "task": task, **body, "state_dict": weights}, tmp)
    tmp.replace(path)
    return path


def load_raw(path: Path | str):
    """The unpickled file, whatever it holds; ValueError naming the file when it is not one."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a model file"
        raise ValueError(f"{path}: not a dermaseg model file ({type(exc).__name__}: {exc})") from None


def task_of(raw) -> str | None:
    """The task of an unpickled dermaseg model file, or None when it is not one."""
    if not isinstance(raw, dict):
        return None
    if raw.get("format") == FORMAT:
        return raw.get("task")
    return _EARLIER.get(raw.get("format"))


def normalise(raw: dict, path: Path | str, task: str | None = None) -> dict:
    """A dermaseg model file's contents in the current shape, weights float32; `task` checked."""
    found = task_of(raw)
    if found is None:
        raise ValueError(f"{path}: not a dermaseg model file (no '{FORMAT}' format tag)")
    if task is not None and found != task:
        hint = "`dermaseg predict`" if found == "segmentation" else "`dermaseg classify predict`"
        raise ValueError(f"{path}: a {found} model, not a {task} model (use it with {hint})")
    out = dict(raw)
    if raw.get("format") == "dermaseg-classifier-v1":
        out["label_task"] = raw.get("task", "auto")
    out["format"], out["task"] = FORMAT, found
    out["state_dict"] = {k: (v.float() if v.is_floating_point() else v) for k, v in raw["state_dict"].items()}
    return out


def read(path: Path | str, task: str | None = None) -> dict:
    """Read a model file of `task` (any task when None)."""
    return normalise(load_raw(path), path, task)
