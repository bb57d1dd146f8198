"""Evaluation reports: per-image table, summary JSON and figures, built one image at a time.

    builder = ReportBuilder(n_worst=12)
    for image_id, image, truth, pred in predictions:     # masks at the image's own size
        builder.add(image_id, image, truth, pred)
    summary = builder.finish(out_dir, extra_summary={"threshold": 0.5, "options": {...}})

`finish` writes per_image.csv, summary.json, confusion_matrix.png, dice_histogram.png and
worst_cases.png into out_dir. Only the per-image rows and the thumbnails of the current
`n_worst` images are held in memory, so a folder of thousands of full-resolution images
costs no more than a handful.
"""

from __future__ import annotations

import csv
import heapq
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from dermaseg.segment.metrics import (
    JACCARD_THRESHOLD,
    METRIC_NAMES,
    as_binary,
    confusion_counts,
    mean_interval,
    metrics_from_counts,
    summarise,
)
from dermaseg.segment.strata import by_lesion_size

PER_IMAGE_CSV = "per_image.csv"
SUMMARY_JSON = "summary.json"
CONFUSION_PNG = "confusion_matrix.png"
DICE_HISTOGRAM_PNG = "dice_histogram.png"
WORST_CASES_PNG = "worst_cases.png"

#: Leading per_image.csv columns; extra per-image fields given to `add` follow them.
ROW_COLUMNS: tuple[str, ...] = (
    "image_id", *METRIC_NAMES, "tp", "fp", "tn", "fn", "height", "width", "truth_area", "pred_area",
)


@dataclass(frozen=True)
class WorstCase:
    """One gallery panel: an image's id, scores and its contour-overlay thumbnail."""

    image_id: str
    jaccard: float
    dice: float
    thumbnail: np.ndarray  # RGB uint8, truth contour green, prediction contour red


class ReportBuilder:
    """Accumulates per-image ISIC metrics, the pixel confusion and the worst cases."""

    def __init__(self, *, n_worst: int = 12, thumb_side: int = 256,
                 jaccard_threshold: float = JACCARD_THRESHOLD):
        if n_worst < 0:
            raise ValueError(f"n_worst must be >= 0, got {n_worst}")
        self.n_worst = n_worst
        self.thumb_side = thumb_side
        self.jaccard_threshold = jaccard_threshold
        self.rows: list[dict[str, Any]] = []
        self._ids: set[str] = set()
        self._confusion = [0, 0, 0, 0]
        # Max-heap on Jaccard (stored negated) of the n_worst lowest; among equal Jaccards
        # the latest-added sits on top, so ties keep the earlier image.
        self._worst: list[tuple[float, int, WorstCase]] = []

    @property
    def pixel_confusion(self) -> tuple[int, int, int, int]:
        """(tp, fp, tn, fn) summed over every image added so far."""
        return tuple(self._confusion)  # type: ignore[return-value]

    def add(self, image_id: str, image: np.ndarray | None, truth: np.ndarray, pred: np.ndarray,
            **extra: Any) -> dict[str, Any]:
        """Score one image and return its row.

        `truth` and `pred` are bool or 0/255 masks at the image's own size; `image` (RGB or
        gray uint8, or None) is only used for the worst-case gallery. Extra keyword fields
        (e.g. diagnosis=...) become per_image.csv columns.
        """
        image_id = str(image_id)
        if image_id in self._ids:
            raise ValueError(f"image '{image_id}' added twice; each image must be scored once")
        clash = set(extra) & set(ROW_COLUMNS)
        if clash:
            raise ValueError(f"extra fields {sorted(clash)} clash with report columns")
        truth_b = as_binary(truth, f"{image_id} truth")
        pred_b = as_binary(pred, f"{image_id} prediction")
        if image is not None and np.asarray(image).shape[:2] != truth_b.shape[:2]:
            raise ValueError(f"{image_id}: image size {np.asarray(image).shape[:2]} differs from "
                             f"mask size {truth_b.shape[:2]}")
        if truth_b.ndim != 2:
            raise ValueError(f"{image_id}: masks must be 2-D (H, W), got shape {truth_b.shape}")
        counts = confusion_counts(truth_b, pred_b)
        tp, fp, tn, fn = counts
        row: dict[str, Any] = {
            "image_id": image_id,
            **metrics_from_counts(*counts, jaccard_threshold=self.jaccard_threshold),
            "tp": tp, "fp": fp, "tn": tn, "fn": fn,
            "height": int(truth_b.shape[0]), "width": int(truth_b.shape[1]),
            "truth_area": tp + fn, "pred_area": tp + fp,
            **extra,
        }
        self.rows.append(row)
        self._ids.add(image_id)
        self._confusion = [a + b for a, b in zip(self._confusion, counts)]
        self._keep_if_worst(row, image, truth_b, pred_b)
        return row

    def _keep_if_worst(self, row: Mapping[str, Any], image, truth: np.ndarray, pred: np.ndarray) -> None:
        if self.n_worst == 0:
            return
        key = (-row["jaccard"], -len(self.rows))
        if len(self._worst) >= self.n_worst and key <= self._worst[0][:2]:
            return  # not worse than the best of the kept worst cases: skip the thumbnail work
        from dermaseg.segment.plots import contour_overlay

        case = WorstCase(row["image_id"], row["jaccard"], row["dice"],
                         contour_overlay(image, truth, pred, max_side=self.thumb_side))
        if len(self._worst) < self.n_worst:
            heapq.heappush(self._worst, (*key, case))
        else:
            heapq.heapreplace(self._worst, (*key, case))

    def worst_cases(self) -> list[WorstCase]:
        """The kept worst cases, lowest Jaccard first (ties: earliest added first)."""
        return [case for *_, case in sorted(self._worst, key=lambda item: (-item[0], -item[1]))]

    def finish(self, out_dir: Path | str, extra_summary: Mapping[str, Any] | None = None) -> dict:
        """Write every report file into out_dir and return the summary dict."""
        return write_report(out_dir, self.rows, pixel_confusion=self.pixel_confusion,
                            worst=self.worst_cases(), extra_summary=extra_summary,
                            jaccard_threshold=self.jaccard_threshold)


def write_per_image_csv(path: Path | str, rows: Sequence[Mapping[str, Any]]) -> Path:
    """One row per image: ROW_COLUMNS first, then any extra fields in first-seen order.
    Floats are written with repr, so reading the file back reproduces the summary exactly."""
    columns = list(ROW_COLUMNS)
    for row in rows:
        columns += [key for key in row if key not in columns]
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _std(rows: Sequence[Mapping[str, Any]], name: str) -> float:
    values = [float(row[name]) for row in rows]
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))


def _intervals(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """How far each mean could move with another draw of images like these: its 95% bootstrap
    interval, every metric on the same resamples."""
    lo, hi = mean_interval([[float(row[name]) for name in METRIC_NAMES] for row in rows])
    return {name: [float(lo[i]), float(hi[i])] for i, name in enumerate(METRIC_NAMES)}


def write_report(out_dir: Path | str, rows: Sequence[Mapping[str, Any]], *,
                 pixel_confusion: Sequence[int], worst: Sequence[WorstCase] = (),
                 extra_summary: Mapping[str, Any] | None = None,
                 jaccard_threshold: float = JACCARD_THRESHOLD) -> dict:
    """Write per_image.csv, summary.json and the three figures; return the summary.

    summary.json holds the macro-averaged ISIC metrics at the top level (jaccard,
    threshold_jaccard, dice, accuracy, sensitivity, specificity), n_images, their population
    std, their 95% bootstrap interval (images resampled), the pixel confusion, the means within
    strata of the lesion's share of the frame (`by_lesion_size`), the worst-case ids, and
    `extra_summary` (the caller's threshold, options, checkpoint, data, ...), which may not
    overwrite those keys.
    """
    from dermaseg.segment import plots

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = summarise(rows)
    tp, fp, tn, fn = (int(c) for c in pixel_confusion)
    summary.update({
        "std": {name: _std(rows, name) for name in METRIC_NAMES},
        "ci95": _intervals(rows),
        "jaccard_threshold": jaccard_threshold,
        "pixel_confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "by_lesion_size": by_lesion_size(rows),
        "worst_cases": [{"image_id": c.image_id, "jaccard": c.jaccard, "dice": c.dice} for c in worst],
    })
    if extra_summary:
        clash = set(extra_summary) & set(summary)
        if clash:
            raise ValueError(f"extra_summary keys {sorted(clash)} would overwrite report fields")
        summary.update(extra_summary)

    write_per_image_csv(out_dir / PER_IMAGE_CSV, rows)
    with (out_dir / SUMMARY_JSON).open("w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, default=str, allow_nan=False)
        f.write("\n")
    plots.plot_confusion_matrix((tp, fp, tn, fn), out_dir / CONFUSION_PNG)
    plots.plot_dice_histogram([row["dice"] for row in rows], out_dir / DICE_HISTOGRAM_PNG,
                              jaccard_threshold=jaccard_threshold)
    plots.plot_gallery(
        [(f"{c.image_id}\nJaccard {c.jaccard:.3f}  Dice {c.dice:.3f}", c.thumbnail) for c in worst],
        out_dir / WORST_CASES_PNG,
        title=f"{len(worst)} worst of {len(rows)} images by Jaccard",
    )
    return summary
