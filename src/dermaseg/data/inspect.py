"""`dermaseg data inspect`: what a data folder holds and every problem in it.

Each file is decoded once (in worker processes) to check readability, sizes, mask values,
coverage, blur/exposure and a pixel hash for duplicate detection.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dermaseg.data.io import ImageReadError, ImageWarning, binarise_mask, read_image, read_mask
from dermaseg.data.quality import Problem, image_problems, mask_problems
from dermaseg.data.readers import LesionDataset, Record


@dataclass
class FileCheck:
    image_id: str
    size: tuple[int, int] | None = None  # (width, height)
    coverage: float | None = None        # lesion fraction of the mask
    pixel_hash: str | None = None
    problems: list[Problem] = field(default_factory=list)


def check_record(record: Record) -> FileCheck:
    """Decode one record's files; decoder warnings (corrupt EXIF, ...) become problems too."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImageWarning)
        out = _check_record(record)
    for w in caught:
        if issubclass(w.category, ImageWarning):
            path, _, reason = str(w.message).partition(": ")
            out.problems.append(Problem("decoder_warning", Path(path), reason, record.image_id))
    return out


def _check_record(record: Record) -> FileCheck:
    out = FileCheck(record.image_id, problems=list(record.problems))
    if record.image_path.name.endswith("(missing)"):
        out.problems.append(Problem("missing_image", record.mask_path, "mask has no matching image", record.image_id))
        return out
    try:
        image = read_image(record.image_path)
    except ImageReadError as exc:
        out.problems.append(Problem("unreadable", exc.path, exc.reason, record.image_id))
        return out
    out.size = (image.shape[1], image.shape[0])
    out.pixel_hash = hashlib.blake2b(image.tobytes() + str(image.shape).encode(), digest_size=16).hexdigest()
    out.problems += image_problems(image, record.image_path, record.image_id)
    if record.mask_path is None:
        return out
    try:
        mask = read_mask(record.mask_path)
    except ImageReadError as exc:
        out.problems.append(Problem("unreadable_mask", exc.path, exc.reason, record.image_id))
        return out
    out.problems += mask_problems(mask, image.shape, record.mask_path, record.image_id)
    out.coverage = float((binarise_mask(mask) > 0).mean())
    return out


@dataclass
class InspectReport:
    layouts: dict[str, int]
    n_records: int
    n_with_mask: int
    sizes: Counter
    coverage: list[float]
    classes: dict[str, Counter]
    n_groups: int
    problems: list[Problem]

    def problem_counts(self) -> Counter:
        return Counter(p.code for p in self.problems)

    def to_dict(self) -> dict:
        cov = np.asarray(self.coverage) if self.coverage else np.zeros(0)
        return {
            "layouts": self.layouts,
            "images": self.n_records,
            "with_mask": self.n_with_mask,
            "lesion_groups": self.n_groups,
            "image_sizes": {f"{w}x{h}": n for (w, h), n in self.sizes.most_common()},
            "mask_coverage": {k: float(f(cov)) for k, f in
                              (("mean", np.mean), ("min", np.min), ("median", np.median), ("max", np.max))}
            if cov.size else {},
            "classes": {k: dict(v.most_common()) for k, v in self.classes.items()},
            "problem_counts": dict(self.problem_counts()),
            "problems": [{"code": p.code, "path": str(p.path), "image_id": p.image_id, "reason": p.reason}
                         for p in self.problems],
        }


def inspect_dataset(ds: LesionDataset, workers: int | None = None) -> InspectReport:
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    records = ds.records
    if workers > 1 and len(records) > 64:
        with ProcessPoolExecutor(workers) as pool:
            checks = list(pool.map(check_record, records, chunksize=64))
    else:
        checks = [check_record(r) for r in records]

    problems = [p for c in checks for p in c.problems]
    by_hash: dict[str, list[Record]] = defaultdict(list)
    for record, check in zip(records, checks):
        if check.pixel_hash:
            by_hash[check.pixel_hash].append(record)
    for same in by_hash.values():
        for dup in same[1:]:
            problems.append(Problem("duplicate", dup.image_path,
                                    f"same pixels as {same[0].image_id} ({same[0].image_path})", dup.image_id))
    ids_with_mask = {r.image_id for r in records if r.mask_path is not None}
    layouts_with_masks = {r.layout for r in records if r.mask_path is not None}
    for r in records:
        if r.mask_path is None and r.layout in layouts_with_masks:
            problems.append(Problem("missing_mask", r.image_path, "image has no lesion mask", r.image_id))

    classes: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        if r.diagnosis is not None:
            classes[r.layout][r.diagnosis] += 1
    return InspectReport(
        layouts=ds.layouts,
        n_records=len(records),
        n_with_mask=len(ids_with_mask),
        sizes=Counter(c.size for c in checks if c.size),
        coverage=[c.coverage for c in checks if c.coverage is not None],
        classes=dict(classes),
        n_groups=len({r.group for r in records}),
        problems=sorted(problems, key=lambda p: (p.code, str(p.path))),
    )


def format_report(report: InspectReport, max_problems: int = 50) -> str:
    d = report.to_dict()
    lines = ["layouts: " + ", ".join(f"{k} ({v} images)" for k, v in d["layouts"].items()),
             f"images: {d['images']}   with mask: {d['with_mask']}   lesion groups: {d['lesion_groups']}"]
    sizes = list(d["image_sizes"].items())
    lines.append("image sizes: " + ", ".join(f"{s} x{n}" for s, n in sizes[:8]) +
                 (f", ... ({len(sizes)} distinct)" if len(sizes) > 8 else ""))
    if d["mask_coverage"]:
        c = d["mask_coverage"]
        lines.append(f"mask coverage (lesion fraction): mean {c['mean']:.3f}  min {c['min']:.3f}  "
                     f"median {c['median']:.3f}  max {c['max']:.3f}")
    for layout, counts in d["classes"].items():
        total = sum(counts.values())
        lines.append(f"classes ({layout}): " + ", ".join(f"{k} {v} ({v / total:.1%})" for k, v in counts.items()))
    counts = d["problem_counts"]
    lines.append("problems: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) if counts else "none"))
    for p in report.problems[:max_problems]:
        lines.append(f"  {p}")
    if len(report.problems) > max_problems:
        lines.append(f"  ... {len(report.problems) - max_problems} more (use --json to get all)")
    return "\n".join(lines)
