"""Melanoma-vs-rest ROC: the curve, its AUC with a bootstrap interval, and the figure.

A classifier's melanoma probability ranks images; the ROC curve shows every trade-off of
sensitivity against specificity a threshold could choose, so it says more than the accuracy
at the arg-max decision (which on external data may sit at a useless point of the curve).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn import metrics as skm

SPECIFICITIES = (0.8, 0.9, 0.95)


def roc_summary(is_melanoma, score, *, bootstrap: int = 1000, seed: int = 0) -> dict:
    """AUC, its 95% percentile-bootstrap interval (images resampled), the curve, and the
    sensitivity reachable at a few fixed specificities."""
    y = np.asarray(is_melanoma, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"truth and scores must be two vectors of one length, got {y.shape} and {s.shape}")
    if y.all() or not y.any():
        raise ValueError(f"ROC needs melanomas and non-melanomas; got {int(y.sum())} of {len(y)} melanomas")
    fpr, tpr, thresholds = skm.roc_curve(y, s)
    auc = float(skm.roc_auc_score(y, s))
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(int(bootstrap)):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].any() and not y[idx].all():
            boot.append(skm.roc_auc_score(y[idx], s[idx]))
    ci = [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))] if boot else None
    at_spec = {f"{sp:.2f}": float(tpr[fpr <= 1 - sp + 1e-12].max()) for sp in SPECIFICITIES}
    return {"n": int(len(y)), "melanomas": int(y.sum()), "auc": auc, "auc_ci95": ci, "bootstrap": int(bootstrap),
            "sensitivity_at_specificity": at_spec,
            "curve": {"fpr": fpr.round(5).tolist(), "tpr": tpr.round(5).tolist(),
                      "threshold": np.nan_to_num(thresholds, posinf=1.0).round(6).tolist()}}


def plot_roc(summary: dict, out_png: Path | str, title: str = "", label: str = "classifier") -> Path:
    return plot_rocs([(label, summary)], out_png, title or f"melanoma vs. rest, n = {summary['n']} "
                                                            f"({summary['melanomas']} melanomas)")


def plot_rocs(curves: list[tuple[str, dict]], out_png: Path | str, title: str = "") -> Path:
    """Several ROC curves on one chart (e.g. held-out test beside another collection)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 4.6), layout="constrained")
    ax = fig.subplots()
    for label, summary in curves:
        ci = summary.get("auc_ci95")
        text = (f"{label}: AUC {summary['auc']:.3f}" + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else "")
                + f", n={summary['n']}")
        ax.plot(summary["curve"]["fpr"], summary["curve"]["tpr"], lw=1.8, label=text)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, linestyle="--", label="chance")
    ax.set(xlabel="1 − specificity (false-positive rate)", ylabel="sensitivity (true-positive rate)",
           xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=120)
    return out_png


def read_summary(path: Path | str) -> dict:
    import json

    path = Path(path)
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not found (classify evaluate writes roc_melanoma.json)") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(summary, dict) or "curve" not in summary or "auc" not in summary:
        raise ValueError(f"{path}: not a ROC summary (no 'curve' and 'auc'); classify evaluate writes one")
    return summary
