"""Score an ensemble from the predictions.csv files of several `classify evaluate` runs.

Each file holds, per image, the true class and one prob_<class> column per class. The ensemble's
probabilities are the mean of the members' on the images all of them scored (the same split and
classes: anything else is an error naming the file). The ensemble's cost at prediction time is
the sum of its members'. Writes metrics.json, predictions.csv and, where melanoma is a class,
the melanoma ROC like `classify evaluate`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def read_predictions(path: Path | str):
    """(image ids, true class names, class names, probabilities (n, k)) of a predictions.csv."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such predictions file")
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from None
    names = [c[len("prob_"):] for c in df.columns if c.startswith("prob_")]
    if "image_id" not in df or "true" not in df or len(names) < 2:
        raise ValueError(f"{path}: not a predictions.csv of classify evaluate (image_id, true, prob_<class> columns)")
    return list(df["image_id"]), list(df["true"]), names, df[[f"prob_{n}" for n in names]].to_numpy(np.float64)


def align_predictions(prediction_files: list[str | Path]):
    """(image ids, class names, true class indices, one (n, k) probability array per file) over
    the images every file scored, in the first file's order; files of other classes, or with
    other true classes for the same image, are an error naming the file."""
    members = [read_predictions(p) for p in prediction_files]
    ids0, _, names, _ = members[0]
    for path, (_, _, other, _) in zip(prediction_files[1:], members[1:]):
        if other != names:
            raise ValueError(f"{path}: classes {other} differ from {prediction_files[0]}'s {names}")
    common = set(ids0).intersection(*(set(m[0]) for m in members[1:]))
    ids = [i for i in ids0 if i in common]
    if not ids:
        raise ValueError("the predictions files share no image")
    truth = dict(zip(members[0][0], members[0][1]))
    probs = []
    for path, (m_ids, m_true, _, p) in zip(prediction_files, members):
        row = {i: k for k, i in enumerate(m_ids)}
        if any(m_true[row[i]] != truth[i] for i in ids):
            raise ValueError(f"{path}: true classes differ from {prediction_files[0]}'s for the same images")
        probs.append(p[[row[i] for i in ids]])
    y = np.array([names.index(truth[i]) for i in ids])
    n_all = len(set().union(*(m[0] for m in members)))
    return ids, names, y, probs, n_all


def score_ensemble(prediction_files: list[str | Path], out_dir: Path | str) -> dict:
    from dermaseg.classify.evaluate import melanoma_roc
    from dermaseg.classify.metrics import classification_metrics, summary_line
    from dermaseg.classify.predictions import write_predictions

    if len(prediction_files) < 2:
        raise ValueError("an ensemble needs at least two predictions files")
    ids, names, y, probs, n_all = align_predictions(prediction_files)
    p = np.mean(probs, axis=0)
    metrics = classification_metrics(y, p, names)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_predictions(out_dir / "predictions.csv", ids, y, p, names)
    report = {"members": [str(f) for f in prediction_files], "n_dropped": n_all - len(ids), **metrics}
    roc = melanoma_roc(y, p, names, out_dir, title="ensemble: melanoma vs. rest")
    if roc is not None:
        report["melanoma_auc"], report["melanoma_auc_ci95"] = roc["auc"], roc["auc_ci95"]
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2))
    print(summary_line(metrics) + (f", melanoma AUC {roc['auc']:.3f}" if roc else ""), file=sys.stderr)
    return report
