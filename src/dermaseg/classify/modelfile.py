"""The classifier model file: architecture, classes, preprocessing, TTA, provenance and weights.

One file is enough to predict (`dermaseg classify predict --model FILE`); the shipped one
lives in `dermaseg/weights/` beside its ONNX export (names: dermaseg.core.zoo). The file is
dermaseg.core.torchfile's, task "classification": weights in float16 (half the size, same
predictions to about 1e-3 in probability), float32 once read.
"""

from __future__ import annotations

from pathlib import Path

from dermaseg.core import torchfile


def save_classifier(path: Path | str, model, *, backbone: str, class_names: list[str], task: str,
                    dropout: float, pipeline: dict, tta_views: int, crop: dict | None = None,
                    info: dict | None = None, fp16: bool = True) -> Path:
    """`task` is the label task (auto | melanoma)."""
    header = {"backbone": backbone, "class_names": list(class_names), "label_task": task, "dropout": float(dropout),
              "pipeline": pipeline, "tta_views": int(tta_views), "crop": crop, "info": info or {}}
    return torchfile.save(path, "classification", header, model.state_dict(), fp16=fp16)


def read_classifier(path: Path | str) -> dict:
    return torchfile.read(path, "classification")


def write_classifier(path: Path | str, data: dict) -> Path:
    """Write what read_classifier returned (after changing its header) as a new file."""
    return torchfile.save(path, "classification", data, data["state_dict"])


def build_from_classifier_file(path: Path | str):
    """(model in eval mode, the file's metadata)."""
    from dermaseg.models.classifier import build_classifier

    data = read_classifier(path)
    model = build_classifier(data["backbone"], len(data["class_names"]), weights=None, dropout=data["dropout"])
    model.load_state_dict(data["state_dict"])
    return model.eval(), data
