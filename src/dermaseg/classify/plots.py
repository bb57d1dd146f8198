"""Figures for classification runs and grids (matplotlib's object API: no global state, no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _figure(**kw):
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kw)


def _save(fig, out_png: Path | str, dpi: int = 110) -> Path:
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=dpi)
    return out_png


def plot_confusion(cm, class_names: list[str], out_png: Path | str, title: str = "") -> Path:
    """Two panels: counts, and rows normalised to recall (each true class sums to 1)."""
    cm = np.asarray(cm, dtype=np.float64)
    k = len(class_names)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    fig = _figure(figsize=(2.2 + 1.3 * k, 0.9 + 0.6 * k))
    axes = fig.subplots(1, 2)
    for ax, data, fmt, name in ((axes[0], cm, "{:.0f}", "counts"), (axes[1], norm, "{:.2f}", "normalised by true class")):
        ax.imshow(data, cmap="Blues", vmin=0, vmax=data.max() if data.max() > 0 else 1)
        ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), class_names, fontsize=8)
        ax.set(xlabel="predicted", ylabel="true", title=name)
        top = data.max() if data.max() > 0 else 1
        for i in range(k):
            for j in range(k):
                ax.text(j, i, fmt.format(data[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if data[i, j] > 0.6 * top else "black")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, out_png)


def plot_grid(results, out_png: Path | str, title: str = "") -> Path:
    """Grouped bars: accuracy and balanced accuracy per technique, one group per split ratio.

    `results`: a DataFrame with columns technique, ratio, backbone, accuracy, balanced_accuracy
    and optionally label, the bar's name (several seeds are averaged; error bars show their
    standard deviation).
    """
    df = results.copy()
    if "label" not in df:   # one bar per technique (and backbone); seeds share a bar
        df["label"] = df["technique"] + (" / " + df["backbone"] if df["backbone"].nunique() > 1 else "")
    agg = df.groupby(["label", "ratio"], sort=False)[["accuracy", "balanced_accuracy"]].agg(["mean", "std"])
    labels = list(dict.fromkeys(df["label"]))
    ratios = list(dict.fromkeys(df["ratio"]))
    fig = _figure(figsize=(max(6.0, 1.6 * len(ratios) * max(1, len(labels)) / 2), 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    width = 0.8 / max(1, len(labels))
    for ax, metric in zip(axes, ("accuracy", "balanced_accuracy")):
        for i, label in enumerate(labels):
            means, stds = [], []
            for r in ratios:
                row = agg.loc[(label, r)] if (label, r) in agg.index else None
                means.append(row[(metric, "mean")] if row is not None else np.nan)
                stds.append(row[(metric, "std")] if row is not None else np.nan)
            ax.bar(np.arange(len(ratios)) + (i - (len(labels) - 1) / 2) * width, means, width,
                   yerr=np.nan_to_num(stds), capsize=2, label=label)
        ax.set_xticks(range(len(ratios)), ratios)
        ax.set(title=metric.replace("_", " "), xlabel="split ratio (train:test)", ylim=(0, 1))
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, out_png)
