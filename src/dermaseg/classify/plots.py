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


def plot_reliability(y_true, prob, out_png: Path | str, title: str = "", bins: int = 15) -> Path:
    """Reliability diagram of the top class: accuracy against stated confidence in the same 15
    bins as the expected calibration error, bar width the bin, the share of images per bin below."""
    from dermaseg.classify.metrics import expected_calibration_error

    prob = np.asarray(prob, dtype=np.float64)
    y_true = np.asarray(y_true)
    confidence = prob.max(axis=1)
    correct = prob.argmax(axis=1) == y_true
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    edges = np.linspace(0, 1, bins + 1)
    share = np.array([(which == b).mean() for b in range(bins)])
    accuracy = np.array([correct[which == b].mean() if (which == b).any() else np.nan for b in range(bins)])
    fig = _figure(figsize=(5.2, 5.6))
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    top.bar(edges[:-1], np.nan_to_num(accuracy), width=1 / bins, align="edge", color="#6aa9c9", edgecolor="#1d2430",
            label="accuracy in the bin")
    top.plot([0, 1], [0, 1], color="#d9822b", linestyle="--", label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_ylim(0, 1)
    top.legend(loc="upper left", fontsize=9)
    ece = expected_calibration_error(y_true, prob, bins=bins)
    top.set_title(f"{title}\nECE ({bins} bins) {ece:.3f}, n={len(y_true)}" if title else f"ECE {ece:.3f}", fontsize=10)
    bottom.bar(edges[:-1], share, width=1 / bins, align="edge", color="#9aa5b4", edgecolor="#1d2430")
    bottom.set_xlabel("stated confidence of the most probable class")
    bottom.set_ylabel("share of images")
    bottom.set_xlim(0, 1)
    return _save(fig, out_png)
