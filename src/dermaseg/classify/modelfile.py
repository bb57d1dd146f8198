"""The classifier model file: architecture, classes, preprocessing, TTA, provenance and weights.

One file is enough to predict (`dermaseg classify predict --model FILE`); the shipped one
lives in `dermaseg/weights/` beside its ONNX export (names: dermaseg.core.zoo). Weights are
stored in float16 (half the size, same predictions to about 1e-3 in probability) and
restored to float32 on load.
"""

from __future__ import annotations

from pathlib import Path

FORMAT = "dermaseg-classifier-v1"


def save_classifier(path: Path | str, model, *, backbone: str, class_names: list[str], task: str,
                    dropout: float, pipeline: dict, tta_views: int, crop: dict | None = None,
                    info: dict | None = None, fp16: bool = True) -> Path:
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if fp16 and v.is_floating_point() else v).contiguous().clone()
             for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, "backbone": backbone, "class_names": list(class_names), "task": task,
                "dropout": float(dropout), "pipeline": pipeline, "tta_views": int(tta_views),
                "crop": crop, "info": info or {}, "state_dict": state}, tmp)
    tmp.replace(path)
    return path


def read_classifier(path: Path | str) -> dict:
    import torch

    path = Path(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a classifier file"
        raise ValueError(f"{path}: not a dermaseg classifier file ({type(exc).__name__}: {exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError(f"{path}: not a dermaseg classifier file (no '{FORMAT}' format tag; "
                         "segmentation models are used by `dermaseg predict`)")
    raw["state_dict"] = {k: (v.float() if v.is_floating_point() else v) for k, v in raw["state_dict"].items()}
    return raw


def build_from_classifier_file(path: Path | str):
    """(model in eval mode, the file's metadata)."""
    from dermaseg.classify.model import build_classifier

    data = read_classifier(path)
    model = build_classifier(data["backbone"], len(data["class_names"]), weights=None, dropout=data["dropout"])
    model.load_state_dict(data["state_dict"])
    return model.eval(), data
