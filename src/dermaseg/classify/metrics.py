"""Classification metrics, computed with scikit-learn on (true class, class probabilities).

Balanced accuracy is the mean per-class recall (the ISIC 2018 Task 3 metric); accuracy alone
flatters an imbalanced set (always answering "nv" scores 0.67 on HAM10000), so both are
always reported. AUC is one-vs-rest per class; a class absent from the truth has no AUC.
ECE (expected calibration error, Guo et al. 2017): the top-label confidence against the
accuracy in 15 equal-width confidence bins, weighted by the bins' sizes; 0 is perfectly calibrated.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm


def check_inputs(y_true, prob, num_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
    if prob.ndim != 2 or len(prob) != len(y_true):
        raise ValueError(f"prob must be (n, classes) with n = {len(y_true)}, got shape {prob.shape}")
    k = num_classes or prob.shape[1]
    if prob.shape[1] != k:
        raise ValueError(f"prob has {prob.shape[1]} columns for {k} classes")
    if len(y_true) == 0:
        raise ValueError("no predictions to score")
    if y_true.min() < 0 or y_true.max() >= k:
        raise ValueError(f"true classes must lie in [0, {k}), got [{y_true.min()}, {y_true.max()}]")
    return y_true, prob


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def expected_calibration_error(y_true, prob, bins: int = 15) -> float:
    """Top-label ECE: sum over confidence bins of |accuracy - mean confidence| x bin share."""
    y_true, prob = check_inputs(y_true, prob)
    confidence = prob.max(axis=1)
    correct = prob.argmax(axis=1) == y_true
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)


def accuracy_balanced_mean(m: dict) -> float:
    """(accuracy + balanced accuracy) / 2 of a `classification_metrics` dict: the figure that
    calibration and epoch selection maximise, so that neither is bought with the other."""
    return (m["accuracy"] + m["balanced_accuracy"]) / 2


def classification_metrics(y_true, prob, class_names: list[str]) -> dict:
    """All figures for one set of predictions; the predicted class is the arg-max probability."""
    k = len(class_names)
    y_true, prob = check_inputs(y_true, prob, k)
    y_pred = prob.argmax(axis=1)
    labels = list(range(k))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    present = [c for c in labels if (y_true == c).any()]
    auc = {}
    for c in labels:
        positives = y_true == c
        auc[c] = float(skm.roc_auc_score(positives, prob[:, c])) if 0 < positives.sum() < len(y_true) else float("nan")
    aucs = [auc[c] for c in labels if not math.isnan(auc[c])]
    cm = skm.confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        # mean recall over the classes that occur in the truth (scikit-learn's definition)
        "balanced_accuracy": float(np.mean([recall[c] for c in present])),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "macro_auc": float(np.mean(aucs)) if aucs else None,
        "ece": expected_calibration_error(y_true, prob),
        "per_class": {
            name: {"precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]),
                   "support": int(support[c]), "auc": _nan_to_none(auc[c])}
            for c, name in enumerate(class_names)
        },
        "class_names": list(class_names),
        "confusion_matrix": cm.tolist(),
    }


def summary_line(m: dict) -> str:
    auc = f", macro AUC {m['macro_auc']:.3f}" if m.get("macro_auc") is not None else ""
    return (f"n={m['n']}: accuracy {m['accuracy']:.3f}, balanced accuracy {m['balanced_accuracy']:.3f}, "
            f"macro F1 {m['macro_f1']:.3f}{auc}")
