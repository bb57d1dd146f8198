"""Which records a classification run uses (`select_records`) and its train/val/test split
(`split_mapping`), on top of `dermaseg.data.splits`.

``grouped`` (the default) keeps every image of one lesion (HAM10000 lesion_id) on one side;
``image`` is the naive image-level split that the literature often uses, which puts images
of the same lesion in both train and test and so overstates accuracy. Both are stratified by
diagnosis. With a two-part ratio the validation part (used to choose the best epoch) is
carved out of the training part, grouped the same way; the test part is never looked at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dermaseg.classify import labels as L_
from dermaseg.data.readers import LesionDataset, Record, open_dataset
from dermaseg.data.splits import make_split, parse_ratios, read_split

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


def select_records(config: dict):
    """(dataset, labelled records in the run, class names).

    Records of `data.joint` sources carry their diagnosis renamed by `data.class_map` in `dx`,
    the original in `source_dx` and their root in `source`; each name they end up with must be
    one of `data.root`'s classes.
    """
    d = config["data"]
    ds = open_dataset(d["root"])
    records = L_.labelled(ds.records, d["task"])
    if not records:
        raise ValueError(f"{d['root']}: no image carries a diagnosis, nothing to classify")
    if d["joint"]:
        records = records + _joint_records(d, L_.class_names(records, d["task"]))
        ds = LesionDataset(records)
    if d["limit_images"]:
        rng = np.random.default_rng(int(config["seed"]))
        keep = sorted(rng.choice(len(records), size=min(int(d["limit_images"]), len(records)), replace=False))
        records = [records[i] for i in keep]
    return ds, records, L_.class_names(records, d["task"])


def _joint_records(d: dict, names: list[str]) -> list:
    out = []
    for root in d["joint"]:
        more = L_.labelled(open_dataset(root).records, d["task"])
        if not more:
            raise ValueError(f"data.joint: {root}: no image carries a diagnosis")
        for r in more:
            r = L_.renamed(r, d["class_map"], source=str(root))
            if L_.record_class(r, d["task"]) not in names:
                raise ValueError(f"data.joint: {root}: diagnosis {r.labels['source_dx']!r} is not one of "
                                 f"{d['root']}'s classes {names}; map it with data.class_map")
            out.append(r)
    return out


def _source_records(records) -> dict[str, list]:
    """Records per source, with the diagnoses they had there (the split of each source is its own)."""
    import dataclasses

    by_source: dict[str, list] = {}
    for r in records:
        if "source" in r.labels:
            r = dataclasses.replace(r, labels={**r.labels, "dx": r.labels["source_dx"]})
        by_source.setdefault(r.labels.get("source", ""), []).append(r)
    return by_source


def split_mapping(config: dict, records, run_dir: Path | None = None) -> dict[str, str]:
    d = config["data"]
    if d["split_file"]:
        mapping = read_split(d["split_file"])
    elif run_dir is not None and (run_dir / "split.csv").exists():
        mapping = read_split(run_dir / "split.csv")
    else:
        # each source on its own: a joint run holds out exactly the images a run on one source would
        mapping = {}
        for part in _source_records(records).values():
            mapping.update(classification_split(part, str(d["ratios"]), mode=d["split"], seed=int(d["split_seed"]),
                                                val_fraction=float(d["val_fraction"])))
    known = {r.image_id for r in records}
    return {k: v for k, v in mapping.items() if k in known}
