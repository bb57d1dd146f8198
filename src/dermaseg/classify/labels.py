"""Class sets: which diagnoses a dataset's records carry, and each record's class index.

`task="auto"` takes the diagnoses present in the records (HAM10000: akiec, bcc, bkl, df,
mel, nv, vasc; ISIC 2017: melanoma, nevus, seborrheic_keratosis; PH2: atypical_nevus,
common_nevus, melanoma), sorted so the order never depends on file order.
`task="melanoma"` is the binary melanoma-vs-rest problem on any of them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from dermaseg.data.readers import Record

TASKS = ("auto", "melanoma")
MELANOMA_NAMES = {"mel", "melanoma", "malignant"}   # HAM10000, ISIC 2017 / PH2, ISIC 2016
BINARY_CLASSES = ("not_melanoma", "melanoma")
# Each class name spelled out, for summaries people read.
CLASS_DESCRIPTIONS = {
    "akiec": "actinic keratosis or intraepithelial carcinoma (Bowen's disease)",
    "bcc": "basal cell carcinoma",
    "bkl": "benign keratosis-like lesion (solar lentigo, seborrheic keratosis, lichen planus-like keratosis)",
    "df": "dermatofibroma",
    "mel": "melanoma",
    "nv": "melanocytic nevus",
    "vasc": "vascular lesion (angioma, angiokeratoma, pyogenic granuloma, haemorrhage)",
    "melanoma": "melanoma",
    "nevus": "melanocytic nevus",
    "seborrheic_keratosis": "seborrheic keratosis",
    "atypical_nevus": "atypical nevus",
    "common_nevus": "common nevus",
    "not_melanoma": "not melanoma",
}


def record_class(record: Record, task: str = "auto") -> str | None:
    """The record's class name under `task`, or None when it has no diagnosis."""
    dx = record.diagnosis
    if dx is None or str(dx).strip() == "":
        return None
    dx = str(dx).strip().lower()
    if task == "melanoma":
        return BINARY_CLASSES[1] if dx in MELANOMA_NAMES else BINARY_CLASSES[0]
    if task != "auto":
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return dx


def labelled(records: list[Record], task: str = "auto") -> list[Record]:
    """Records that carry a diagnosis (the others cannot be trained or scored on)."""
    return [r for r in records if record_class(r, task) is not None]


def class_names(records: list[Record], task: str = "auto") -> list[str]:
    """Sorted class names present in `records` under `task`."""
    if task == "melanoma":
        return list(BINARY_CLASSES)
    names = sorted({c for r in records if (c := record_class(r, task)) is not None})
    if len(names) < 2:
        raise ValueError(f"classification needs at least two diagnoses in the data, found {names or 'none'}")
    return names


def targets(records: list[Record], names: list[str], task: str = "auto") -> list[int]:
    """Class index of each record (records must be labelled)."""
    index = {n: i for i, n in enumerate(names)}
    out = []
    for r in records:
        c = record_class(r, task)
        if c not in index:
            raise ValueError(f"{r.image_path}: diagnosis {c!r} is not one of the model's classes {names}")
        out.append(index[c])
    return out


def class_counts(records: list[Record], task: str = "auto") -> dict[str, int]:
    return dict(sorted(Counter(record_class(r, task) for r in labelled(records, task)).items()))


def renamed(record: Record, class_map: dict, **labels) -> Record:
    """The record with its diagnosis named as `class_map` says (a collection trained on jointly
    with another), the original kept in `source_dx`; `labels` are added too."""
    dx = record.diagnosis
    new = class_map.get(str(dx).strip().lower(), dx)
    return dataclasses.replace(record, labels={**record.labels, "dx": new, "source_dx": dx, **labels})


def describe_class(name: str) -> str:
    """The class name spelled out ("mel" -> "melanoma"); an unknown name as it is."""
    return CLASS_DESCRIPTIONS.get(str(name).lower(), str(name))
