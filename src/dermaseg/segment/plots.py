"""Figures for training runs and evaluation reports.

Everything draws on a bare `matplotlib.figure.Figure` (no pyplot): no global state, no GUI
backend, safe to call from a server thread or a Lightning callback.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from dermaseg.training.curves import plot_learning_curves  # noqa: F401 - part of this module's API

TRUTH_RGB = (0, 200, 0)  # green
PRED_RGB = (230, 0, 0)   # red

def _save(fig: Figure, out_png: Path | str, dpi: int = 110) -> Path:
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=dpi, bbox_inches="tight")
    return out_png


def plot_confusion_matrix(counts: Sequence[int], out_png: Path | str) -> Path:
    """Pixel confusion matrix from (tp, fp, tn, fn) summed over images: counts and row-normalised."""
    tp, fp, tn, fn = (int(c) for c in counts)
    cm = np.array([[tn, fp], [fn, tp]], dtype=np.float64)  # rows: truth, columns: prediction
    total = cm.sum()
    row_sums = cm.sum(axis=1, keepdims=True)
    normalised = np.divide(cm, row_sums, out=np.zeros_like(cm), where=row_sums > 0)

    fig = Figure(figsize=(11, 4.4), layout="constrained")
    axes = fig.subplots(1, 2)
    names = ["background", "lesion"]
    panels = [
        (cm, "Pixel counts", lambda v, i, j: f"{int(v):,}\n({v / total:.1%} of pixels)" if total else "0"),
        (normalised, "Normalised by truth (rows)",
         lambda v, i, j: f"{v:.3f}" if row_sums[i, 0] > 0 else "n/a"),
    ]
    for ax, (values, title, fmt) in zip(axes, panels):
        image = ax.imshow(values, cmap="Blues", vmin=0)
        high = values.max() / 2 if values.max() > 0 else 1
        for i in range(2):
            for j in range(2):
                ax.text(j, i, fmt(values[i, j], i, j), ha="center", va="center", fontsize=9,
                        color="white" if values[i, j] > high else "black")
        ax.set_xticks([0, 1], labels=names)
        ax.set_yticks([0, 1], labels=names)
        ax.set(title=title, xlabel="prediction", ylabel="truth")
        fig.colorbar(image, ax=ax, shrink=0.9)
    fig.suptitle("Pixel confusion over all images (specificity top-left, sensitivity bottom-right)",
                 fontsize=10)
    return _save(fig, out_png)


def plot_dice_histogram(dice: Sequence[float], out_png: Path | str, *,
                        jaccard_threshold: float = 0.65) -> Path:
    """Histogram of per-image Dice with mean, median and the thresholded-Jaccard cut-off."""
    values = np.asarray(dice, dtype=np.float64)
    fig = Figure(figsize=(6.5, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.hist(values, bins=np.linspace(0.0, 1.0, 21), color="tab:blue", edgecolor="white")
    if values.size:
        ax.axvline(values.mean(), color="black", label=f"mean {values.mean():.3f}")
        ax.axvline(np.median(values), color="black", linestyle="--",
                   label=f"median {np.median(values):.3f}")
    # Dice and Jaccard are monotone per image: D = 2J / (1 + J).
    cut = 2 * jaccard_threshold / (1 + jaccard_threshold)
    ax.axvline(cut, color="tab:red", linestyle=":",
               label=f"Jaccard {jaccard_threshold:g} (Dice {cut:.3f}): below scores 0")
    ax.set(xlim=(0, 1), xlabel="Dice", ylabel="images", title=f"Per-image Dice (n = {values.size})")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="upper left")
    return _save(fig, out_png)


def contour_overlay(image: np.ndarray | None, truth: np.ndarray, pred: np.ndarray, *,
                    max_side: int = 256) -> np.ndarray:
    """A thumbnail (longest side <= max_side) of `image` with the truth contour in green and the
    prediction contour in red. Contours are traced at full resolution and then scaled, so a
    small lesion or a thin sliver is not lost to downsampling."""
    truth = np.asarray(truth, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    h, w = truth.shape
    if image is None:
        image = np.zeros((h, w, 3), np.uint8)
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.shape[:2] != (h, w):
        raise ValueError(f"image size {image.shape[:2]} differs from mask size {(h, w)}")
    scale = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    thumb = cv2.resize(image.astype(np.uint8), size, interpolation=cv2.INTER_AREA) if scale < 1 \
        else image.astype(np.uint8).copy()
    thickness = max(1, round(max(size) / 128))
    shift = 4  # sub-pixel precision for the scaled contour points
    for mask, colour in ((truth, TRUTH_RGB), (pred, PRED_RGB)):
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        scaled = [np.round(((c.astype(np.float64) + 0.5) * scale - 0.5) * (1 << shift)).astype(np.int32)
                  for c in contours]
        if scaled:
            # LINE_8, not LINE_AA: anti-aliased 1-px lines come out faint on small thumbnails.
            cv2.polylines(thumb, scaled, True, colour, thickness, cv2.LINE_8, shift)
    return thumb


def plot_gallery(items: Sequence[tuple[str, np.ndarray]], out_png: Path | str, *,
                 title: str = "", ncols: int = 4) -> Path:
    """A grid of (caption, RGB thumbnail) panels, with a truth/prediction colour legend."""
    n = len(items)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(3.2 * ncols, 3.4 * nrows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax in axes:
        ax.set_axis_off()
    if not items:
        axes[0].text(0.5, 0.5, "no images", ha="center", va="center")
    for ax, (caption, thumb) in zip(axes, items):
        ax.imshow(thumb)
        ax.set_title(caption, fontsize=8)
    handles = [Line2D([], [], color=np.array(TRUTH_RGB) / 255, label="truth"),
               Line2D([], [], color=np.array(PRED_RGB) / 255, label="prediction")]
    fig.legend(handles=handles, loc="upper right", fontsize=8, ncols=2)
    if title:
        fig.suptitle(title, fontsize=10, x=0.02, ha="left")
    return _save(fig, out_png)
