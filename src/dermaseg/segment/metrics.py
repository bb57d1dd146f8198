"""ISIC challenge segmentation metrics, per image and macro-averaged.

The definitions follow the official scorer (`isic-challenge-scoring`, `metrics.py` and
`segmentation.py`) exactly, including its conventions for degenerate masks:

* Jaccard and Dice are 1.0 when truth and prediction are both empty (TP + FP + FN == 0);
* sensitivity is 1.0 when the truth has no lesion pixel (TP + FN == 0);
* specificity is 1.0 when the truth is all lesion (TN + FP == 0);
* thresholded Jaccard is the Jaccard when it is >= 0.65, else 0.0;
* the challenge score is the plain mean over images (macro average), every image counted.

A mask is a bool array or a uint8 image on the 0..255 scale; the latter is binarised with
`> 128`, as the official scorer does with submitted PNGs.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

#: Per-image metrics, in the order the reports print them.
METRIC_NAMES: tuple[str, ...] = (
    "jaccard",
    "threshold_jaccard",
    "dice",
    "accuracy",
    "sensitivity",
    "specificity",
)

#: The challenge's cut-off: a Jaccard below it scores 0 in the thresholded Jaccard.
JACCARD_THRESHOLD = 0.65


def as_binary(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """Return `mask` as a bool array, with the official scorer's `> 128` rule for uint8.

    Float arrays are refused (threshold probabilities yourself, e.g. `probs >= 0.5`), and so
    are integer masks whose largest value is 1: under the 0..255 convention a {0, 1} mask is
    all background, which is almost certainly not what the caller meant.
    """
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        return mask
    if not np.issubdtype(mask.dtype, np.integer):
        raise TypeError(
            f"{name}: dtype {mask.dtype} is not a mask; pass a bool array or a 0/255 integer "
            "image (threshold probabilities first, e.g. probs >= 0.5)"
        )
    if mask.size and mask.max() == 1:
        raise ValueError(
            f"{name}: integer mask with values in {{0, 1}}; pass a bool array or the 0/255 "
            "convention (values > 128 are lesion)"
        )
    return mask > 128


def _pair(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = as_binary(truth, "truth")
    p = as_binary(pred, "prediction")
    if t.shape != p.shape:
        raise ValueError(f"truth shape {t.shape} and prediction shape {p.shape} differ")
    return t, p


def confusion_counts(truth: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int]:
    """Pixel counts (tp, fp, tn, fn) of a predicted mask against the truth."""
    t, p = _pair(truth, pred)
    tp = int(np.count_nonzero(t & p))
    fp = int(np.count_nonzero(p)) - tp
    fn = int(np.count_nonzero(t)) - tp
    tn = int(t.size) - tp - fp - fn
    return tp, fp, tn, fn


def metrics_from_counts(
    tp: int, fp: int, tn: int, fn: int, *, jaccard_threshold: float = JACCARD_THRESHOLD
) -> dict[str, float]:
    """The six ISIC metrics from one image's confusion counts (see module docstring)."""
    if min(tp, fp, tn, fn) < 0 or tp + fp + tn + fn == 0:
        raise ValueError(f"invalid confusion counts tp={tp} fp={fp} tn={tn} fn={fn}")
    union = tp + fp + fn
    jaccard = 1.0 if union == 0 else tp / union
    return {
        "jaccard": float(jaccard),
        "threshold_jaccard": float(jaccard) if jaccard >= jaccard_threshold else 0.0,
        "dice": 1.0 if union == 0 else float(2 * tp / (2 * tp + fp + fn)),
        "accuracy": float((tp + tn) / (tp + tn + fp + fn)),
        "sensitivity": 1.0 if tp + fn == 0 else float(tp / (tp + fn)),
        "specificity": 1.0 if tn + fp == 0 else float(tn / (tn + fp)),
    }


def image_metrics(
    truth: np.ndarray, pred: np.ndarray, *, jaccard_threshold: float = JACCARD_THRESHOLD
) -> dict[str, float]:
    """The six ISIC metrics of one predicted mask (bool or 0/255, same shape as the truth)."""
    return metrics_from_counts(*confusion_counts(truth, pred), jaccard_threshold=jaccard_threshold)


def summarise(rows: Sequence[Mapping[str, float]], metrics: Iterable[str] = METRIC_NAMES) -> dict:
    """Macro-average each metric over all rows (one row per image) and count the images.

    No image is ever skipped: a row that lacks a metric or holds a NaN raises ValueError, so a
    failed image cannot silently improve the score.
    """
    metrics = tuple(metrics)
    if not rows:
        raise ValueError("no images to summarise")
    out: dict = {}
    for name in metrics:
        values = []
        for i, row in enumerate(rows):
            if name not in row:
                raise ValueError(f"row {i} ({row.get('image_id', '?')}) has no '{name}'")
            value = float(row[name])
            if math.isnan(value):
                raise ValueError(f"row {i} ({row.get('image_id', '?')}) has '{name}' = NaN")
            values.append(value)
        out[name] = math.fsum(values) / len(values)
    out["n_images"] = len(rows)
    return out


def mean_interval(values, *, rounds: int = 2000, seed: int = 0, level: float = 0.95):
    """Percentile-bootstrap interval of the mean of per-image values (images resampled with
    replacement). Applied to per-image differences of two models on the same images it is the
    paired interval of their gap. `values` of shape (n,) gives one (low, high) pair; of shape
    (n, m), m metrics of the same images, it gives (low, high) arrays of m, every metric scored
    on the same resamples. Resamples are drawn in chunks, so memory stays bounded for large n."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no values to resample")
    rng, n, means = np.random.default_rng(seed), len(v), []
    chunk = max(1, min(rounds, 2_000_000 // n))
    for start in range(0, rounds, chunk):
        means.append(v[rng.integers(0, n, size=(min(chunk, rounds - start), n))].mean(axis=1))
    means = np.concatenate(means)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(means, tail, axis=0), np.percentile(means, 100 - tail, axis=0)
    return (float(lo), float(hi)) if v.ndim == 1 else (lo, hi)


def soft_dice(probs: np.ndarray, truth: np.ndarray, *, eps: float = 1e-7) -> float:
    """Dice computed on probabilities in [0, 1] against a binary truth (no thresholding).

    Both empty scores 1.0, matching the hard Dice convention; useful for monitoring a model's
    calibration-free overlap on validation data.
    """
    p = np.asarray(probs, dtype=np.float64)
    t = as_binary(truth, "truth").astype(np.float64)
    if p.shape != t.shape:
        raise ValueError(f"probability shape {p.shape} and truth shape {t.shape} differ")
    denom = p.sum() + t.sum()
    if denom <= eps:
        return 1.0
    return float(2.0 * (p * t).sum() / denom)


class ThresholdSweep:
    """Pick the probability threshold that maximises a macro-averaged metric on validation.

    Streams images one at a time (nothing but per-threshold counts is kept), and scores each
    candidate exactly as `image_metrics(truth, probs >= t)` would:

        sweep = ThresholdSweep()
        for truth, probs in validation:
            sweep.add(truth, probs)
        best_t, table = sweep.best("jaccard")
    """

    def __init__(self, thresholds: Sequence[float] | None = None):
        if thresholds is None:
            thresholds = np.round(np.arange(0.05, 0.951, 0.05), 2)
        self.thresholds = np.array(sorted(set(float(t) for t in thresholds)), dtype=np.float64)
        if self.thresholds.size == 0:
            raise ValueError("no thresholds to sweep")
        self._rows: list[list[dict[str, float]]] = [[] for _ in self.thresholds]

    def add(self, truth: np.ndarray, probs: np.ndarray) -> None:
        t = as_binary(truth, "truth")
        p = np.asarray(probs, dtype=np.float64)
        if p.shape != t.shape:
            raise ValueError(f"probability shape {p.shape} and truth shape {t.shape} differ")
        if np.isnan(p).any():
            raise ValueError("probabilities contain NaN")
        t, p = t.ravel(), p.ravel()
        # bucket[i] = number of thresholds <= p[i]; a pixel is predicted positive at
        # threshold k exactly when its bucket > k.
        k = self.thresholds.size
        bucket = np.searchsorted(self.thresholds, p, side="right")
        pos_hist = np.bincount(bucket[t], minlength=k + 1)
        all_hist = np.bincount(bucket, minlength=k + 1)
        pos_at_or_above = np.cumsum(pos_hist[::-1])[::-1]  # [j] = count with bucket >= j
        all_at_or_above = np.cumsum(all_hist[::-1])[::-1]
        n_truth = int(np.count_nonzero(t))
        for j in range(k):
            tp = int(pos_at_or_above[j + 1])
            fp = int(all_at_or_above[j + 1]) - tp
            fn = n_truth - tp
            tn = int(t.size) - tp - fp - fn
            self._rows[j].append(metrics_from_counts(tp, fp, tn, fn))

    def table(self) -> list[dict]:
        """One dict per threshold: threshold plus the macro-averaged metrics."""
        return [{"threshold": float(t), **summarise(rows)} for t, rows in zip(self.thresholds, self._rows)]

    def best(self, metric: str = "jaccard") -> tuple[float, list[dict]]:
        """(threshold with the highest macro `metric`, the full table). Ties go to the threshold
        nearest 0.5. Jaccard is the default: it ranks like the challenge score but, unlike the
        thresholded Jaccard, it is not a step function, so a small validation set picks a
        stable threshold."""
        if metric not in METRIC_NAMES:
            raise ValueError(f"unknown metric '{metric}'; choose from {', '.join(METRIC_NAMES)}")
        table = self.table()
        best = max(table, key=lambda row: (row[metric], -abs(row["threshold"] - 0.5)))
        return best["threshold"], table
