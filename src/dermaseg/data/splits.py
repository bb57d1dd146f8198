"""Reproducible train/val/test splits: stratified by diagnosis, grouped by lesion.

Groups (HAM10000 lesion_id; otherwise each image alone) never straddle two splits.
Within each diagnosis, groups are shuffled by a seeded PCG64 generator over sorted ids, so
the same seed gives the same split on any machine. Split sizes are then made exact (to
the image) by moving single-image groups between splits.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from dermaseg.data.readers import Record

SPLIT_NAMES = {2: ("train", "test"), 3: ("train", "val", "test")}


def parse_ratios(text: str) -> tuple[float, ...]:
    """'80:20' / '70:10:20' / '0.8,0.2' -> normalised fractions."""
    parts = [p for p in text.replace(",", ":").split(":") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"ratios {text!r}: expected numbers like 80:20 or 70:10:20") from None
    if len(values) not in SPLIT_NAMES or any(v <= 0 for v in values):
        raise ValueError(f"ratios {text!r}: give 2 (train:test) or 3 (train:val:test) positive parts")
    total = sum(values)
    return tuple(v / total for v in values)


def _target_counts(n: int, ratios: tuple[float, ...]) -> list[int]:
    """Largest-remainder rounding: counts sum to n exactly."""
    raw = [n * r for r in ratios]
    counts = [int(np.floor(x)) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def make_split(records: list[Record], ratios=(0.8, 0.2), seed: int = 0, stratify: bool = True,
               group: bool = True) -> dict[str, str]:
    """Map image_id -> split name ('train'/'test' or 'train'/'val'/'test')."""
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) not in SPLIT_NAMES:
        raise ValueError("ratios must have 2 (train:test) or 3 (train:val:test) parts")
    total = sum(ratios)
    ratios = tuple(r / total for r in ratios)
    names = SPLIT_NAMES[len(ratios)]
    k = len(ratios)

    groups: dict[str, list[str]] = defaultdict(list)
    group_label: dict[str, list[str]] = defaultdict(list)
    for r in records:
        g = r.group if group else r.image_id
        groups[g].append(r.image_id)
        group_label[g].append(str(r.diagnosis) if stratify and r.diagnosis is not None else "")
    # A group's stratum is its most common label (ties: alphabetical) — one lesion, one diagnosis in practice.
    stratum_of = {g: sorted(set(ls), key=lambda x: (-ls.count(x), x))[0] for g, ls in group_label.items()}
    strata: dict[str, list[str]] = defaultdict(list)
    for g in sorted(groups):
        strata[stratum_of[g]].append(g)

    rng = np.random.Generator(np.random.PCG64(seed))
    assignment: dict[str, int] = {}
    for label in sorted(strata):
        gs = strata[label]
        gs = [gs[i] for i in rng.permutation(len(gs))]
        n_images = sum(len(groups[g]) for g in gs)
        target = _target_counts(n_images, ratios)
        have = [0] * k
        # Big groups first so single images can fill the remaining gaps exactly.
        for g in sorted(gs, key=lambda g: -len(groups[g])):
            deficit = [(target[i] - have[i]) / max(target[i], 1) for i in range(k)]
            s = max(range(k), key=lambda i: (deficit[i], -i))
            assignment[g] = s
            have[s] += len(groups[g])

    # Make the overall sizes exact by moving single-image groups from over- to under-filled splits.
    n = sum(len(v) for v in groups.values())
    target = _target_counts(n, ratios)
    sizes = [0] * k
    for g, s in assignment.items():
        sizes[s] += len(groups[g])
    singles = [g for g in sorted(assignment) if len(groups[g]) == 1]
    singles = [singles[i] for i in rng.permutation(len(singles))]
    for g in singles:
        over = [i for i in range(k) if sizes[i] > target[i]]
        under = [i for i in range(k) if sizes[i] < target[i]]
        if not over or not under:
            break
        if assignment[g] in over:
            src = assignment[g]
            dst = under[0]
            assignment[g] = dst
            sizes[src] -= 1
            sizes[dst] += 1

    return {image_id: names[assignment[g]] for g, ids in groups.items() for image_id in ids}


def write_split(path: Path | str, mapping: dict[str, str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image_id", "split"])
        for image_id in sorted(mapping):
            w.writerow([image_id, mapping[image_id]])


def read_split(path: Path | str) -> dict[str, str]:
    path = Path(path)
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"image_id", "split"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: a split file needs the columns image_id,split")
        return {row["image_id"]: row["split"] for row in reader}


def ids_in(mapping: dict[str, str], split: str) -> list[str]:
    ids = sorted(i for i, s in mapping.items() if s == split)
    if not ids:
        raise ValueError(f"split {split!r} is empty (splits present: {sorted(set(mapping.values()))})")
    return ids
