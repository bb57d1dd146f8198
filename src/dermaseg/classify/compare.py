"""How sure are the figures? Accuracy and balanced accuracy with 95% bootstrap intervals, and the
paired difference of each classifier from the first, from `classify evaluate` predictions.csv files.

A test split of 2,003 HAM10000 images holds only a few dozen dermatofibromas and vascular
lesions, so balanced accuracy (the mean of seven recalls) moves by about 0.01 when one of them
flips; whether 0.711 and 0.717 differ, or whether either is short of 0.72, is a question for an
interval, not for the third decimal. Resampling is by lesion where the data set says which
images show one lesion (HAM10000's lesion_id: its images are not independent), else by image.
Paired: one draw picks the same lesions for every classifier, so a shared hard case does not
widen the interval of a difference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dermaseg.classify.ensemble import align_predictions
from dermaseg.core.files import write_json_and_markdown

ROUNDS = 2000


def _figures(y: np.ndarray, pred: np.ndarray, idx: np.ndarray, k: int) -> tuple[float, float]:
    """Accuracy and balanced accuracy (mean recall over the classes present) of the images idx."""
    yi, correct = y[idx], pred[idx] == y[idx]
    seen = np.bincount(yi, minlength=k)
    hits = np.bincount(yi, weights=correct, minlength=k)
    return float(correct.mean()), float(np.mean(hits[seen > 0] / seen[seen > 0]))


def _interval(values: np.ndarray) -> list[float]:
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def resample_indices(groups: list[str], rounds: int, seed: int = 0) -> list[np.ndarray]:
    """Image indices of each resample: as many groups as there are, drawn with replacement, each
    bringing all its images (so resamples of grouped data differ a little in length)."""
    rng = np.random.default_rng(seed)
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    blocks = [np.array(b) for b in members.values()]
    return [np.concatenate([blocks[b] for b in rng.integers(0, len(blocks), size=len(blocks))])
            for _ in range(rounds)]


def lesion_groups(data_root: Path | str | None, image_ids: list[str]) -> list[str]:
    """The lesion each image shows (HAM10000 lesion_id), or the image itself where unknown."""
    if data_root is None:
        return list(image_ids)
    from dermaseg.data.readers import find_records

    by_id = {r.image_id: r.group for r in find_records(Path(data_root))}
    return [by_id.get(i, i) for i in image_ids]


def compare(prediction_files: list[str | Path], *, data_root: Path | str | None = None, rounds: int = ROUNDS,
            seed: int = 0) -> dict:
    """Each file's accuracy and balanced accuracy with a 95% interval, and each later file's paired
    difference from the first, over the images every file scored."""
    ids, names, y, probs, _ = align_predictions(prediction_files)
    preds = [p.argmax(axis=1) for p in probs]
    groups = lesion_groups(data_root, ids)
    resamples = resample_indices(groups, rounds, seed)
    whole = np.arange(len(ids))
    k = len(names)
    report = {"n_images": len(ids), "n_groups": len(set(groups)), "rounds": rounds,
              "resampled_by": "lesion" if len(set(groups)) < len(ids) else "image", "classifiers": []}
    drawn = [np.array([_figures(y, pred, idx, k) for idx in resamples]) for pred in preds]   # (rounds, 2) each
    first_acc, first_bal = _figures(y, preds[0], whole, k)
    for n, (path, pred) in enumerate(zip(prediction_files, preds)):
        acc, bal = _figures(y, pred, whole, k)
        entry = {"predictions": str(path), "accuracy": acc, "accuracy_ci95": _interval(drawn[n][:, 0]),
                 "balanced_accuracy": bal, "balanced_accuracy_ci95": _interval(drawn[n][:, 1])}
        if n > 0:
            delta = drawn[n] - drawn[0]            # paired: the same resample for both
            entry.update(accuracy_minus_first=acc - first_acc, accuracy_minus_first_ci95=_interval(delta[:, 0]),
                         balanced_minus_first=bal - first_bal, balanced_minus_first_ci95=_interval(delta[:, 1]))
        report["classifiers"].append(entry)
    return report


def markdown(report: dict) -> str:
    def ci(lo_hi, signed=False):
        f = "{:+.3f}" if signed else "{:.3f}"
        return f"{f.format(lo_hi[0])} to {f.format(lo_hi[1])}"

    lines = [f"{report['n_images']} images, {report['n_groups']} {report['resampled_by']}s resampled "
             f"{report['rounds']} times (95% percentile intervals; differences paired, from the first row)", "",
             "| predictions | accuracy (95% CI) | balanced accuracy (95% CI) | accuracy − first | balanced − first |",
             "| --- | --- | --- | --- | --- |"]
    for c in report["classifiers"]:
        diff = ["—", "—"]
        if "accuracy_minus_first" in c:
            diff = [f"{c['accuracy_minus_first']:+.3f} ({ci(c['accuracy_minus_first_ci95'], True)})",
                    f"{c['balanced_minus_first']:+.3f} ({ci(c['balanced_minus_first_ci95'], True)})"]
        lines.append(f"| {c['predictions']} | {c['accuracy']:.3f} ({ci(c['accuracy_ci95'])}) | "
                     f"{c['balanced_accuracy']:.3f} ({ci(c['balanced_accuracy_ci95'])}) | {diff[0]} | {diff[1]} |")
    return "\n".join(lines) + "\n"


def write_comparison(report: dict, out_dir: Path | str) -> None:
    write_json_and_markdown(out_dir, "comparison", report, markdown(report))
