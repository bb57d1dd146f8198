"""Train/val/test splits for classification, on top of `dermaseg.data.splits`.

``grouped`` (the default) keeps every image of one lesion (HAM10000 lesion_id) on one side;
``image`` is the naive image-level split that the literature often uses, which puts images
of the same lesion in both train and test and so overstates accuracy. Both are stratified by
diagnosis. With a two-part ratio the validation part (used to choose the best epoch) is
carved out of the training part, grouped the same way; the test part is never looked at.
"""

from __future__ import annotations

from dermaseg.data.readers import Record
from dermaseg.data.splits import make_split, parse_ratios

SPLIT_MODES = ("grouped", "image")


def classification_split(records: list[Record], ratios: str | tuple = "80:20", *, mode: str = "grouped",
                         seed: int = 0, val_fraction: float = 0.1) -> dict[str, str]:
    """image_id -> 'train' | 'val' | 'test'."""
    if mode not in SPLIT_MODES:
        raise ValueError(f"unknown split mode {mode!r}; choose one of {', '.join(SPLIT_MODES)}")
    group = mode == "grouped"
    parts = parse_ratios(ratios) if isinstance(ratios, str) else tuple(float(r) for r in ratios)
    mapping = make_split(records, parts, seed=seed, stratify=True, group=group)
    if len(parts) == 3 or not val_fraction:
        return mapping
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    train = [r for r in records if mapping[r.image_id] == "train"]
    inner = make_split(train, (1 - val_fraction, val_fraction), seed=seed + 1, stratify=True, group=group)
    for image_id, part in inner.items():
        mapping[image_id] = "train" if part == "train" else "val"
    return mapping


def leaked_groups(records: list[Record], mapping: dict[str, str]) -> set[str]:
    """Groups (lesions) whose images fall in more than one split."""
    seen: dict[str, set[str]] = {}
    for r in records:
        if r.image_id in mapping:
            seen.setdefault(r.group, set()).add(mapping[r.image_id])
    return {g for g, parts in seen.items() if len(parts) > 1}
