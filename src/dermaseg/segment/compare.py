"""Compare segmentation evaluations of the same images, paired by image.

`dermaseg compare A B [C ...]` reads the per_image.csv each `dermaseg evaluate` wrote and states,
for every evaluation, each ISIC metric's mean with a 95% bootstrap interval, and for every
evaluation after the first its difference from the first with a paired interval: one resample
of the images is used for all evaluations and metrics, so the interval of a difference reflects
how much the two models disagree image by image, not how hard the images are. When the files hold
the images' sizes (every `dermaseg evaluate` writes them), a second table states each one's Dice
within strata of the lesion's share of the frame, with the paired differences there.

Every evaluation must have scored the same images: a difference over a subset could hide the
images one model failed on. `common=True` compares over the images all of them scored, and says
how many each one left out.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from dermaseg.core.files import write_json_and_markdown
from dermaseg.segment.metrics import METRIC_NAMES, mean_interval
from dermaseg.segment.report import PER_IMAGE_CSV
from dermaseg.segment.strata import group_by_stratum, lesion_share, stratum_label

ROUNDS = 2000
SIZE_COLUMNS = ("truth_area", "height", "width")


def read_scores(path: Path | str, metrics: tuple[str, ...] = METRIC_NAMES) -> dict[str, dict[str, float]]:
    """{image id: {metric: value}} from an evaluation folder or its per_image.csv; `metrics`
    names the columns it must hold (all of the ISIC metrics unless told fewer)."""
    path = Path(path)
    csv_path = path / PER_IMAGE_CSV if path.is_dir() else path
    if not csv_path.is_file():
        raise ValueError(f"{csv_path}: no such file (give an evaluation folder or its {PER_IMAGE_CSV})")
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{csv_path}: no scored images")
    missing = [m for m in ("image_id", *metrics) if m not in rows[0]]
    if missing:
        raise ValueError(f"{csv_path}: not a per-image score file (no column {', '.join(missing)})")
    try:
        return {r["image_id"]: {m: float(r[m]) for m in metrics} for r in rows}
    except ValueError as exc:
        raise ValueError(f"{csv_path}: {exc}") from None


def paired_difference(reference: dict[str, float], other: dict[str, float], *, rounds: int = ROUNDS,
                      seed: int = 0) -> tuple[float, float, float]:
    """Mean of other − reference over the images both scored, and its 95% percentile interval
    from resampling those images (paired: one draw picks the same images for both)."""
    ids = sorted(set(reference) & set(other))
    if not ids:
        raise ValueError("no image scored by both")
    diff = [other[i] - reference[i] for i in ids]
    lo, hi = mean_interval(diff, rounds=rounds, seed=seed)
    return sum(diff) / len(diff), lo, hi


def _image_ids(scores: list[dict], paths: list[str], common: bool) -> list[str]:
    shared = set.intersection(*(set(s) for s in scores))
    if not shared:
        raise ValueError("the evaluations have no image in common")
    if not common:
        for path, s in zip(paths[1:], scores[1:]):
            if set(s) != set(scores[0]):
                only_first, only_this = sorted(set(scores[0]) - set(s)), sorted(set(s) - set(scores[0]))
                raise ValueError(
                    f"{path} did not score the same images as {paths[0]} ({len(only_first)} only in the first, "
                    f"e.g. {only_first[:3]}; {len(only_this)} only in this one, e.g. {only_this[:3]}); "
                    "pass --common to compare over the images all of them scored")
    return sorted(shared)


def compare(paths: list[str | Path], *, common: bool = False, rounds: int = ROUNDS, seed: int = 0) -> dict:
    """Each evaluation's metric means with 95% intervals, and each later one's paired difference
    from the first, over the same resamples of the same images."""
    if len(paths) < 2:
        raise ValueError("compare needs two evaluations or more; the first is the reference")
    paths = [str(p) for p in paths]
    scores = [read_scores(p) for p in paths]
    ids = _image_ids(scores, paths, common)
    values = [np.array([[s[i][m] for m in METRIC_NAMES] for i in ids]) for s in scores]   # (images, metrics)
    report = {"n_images": len(ids), "rounds": rounds, "metrics": list(METRIC_NAMES), "evaluations": []}
    for n, (path, s, v) in enumerate(zip(paths, scores, values)):
        lo, hi = mean_interval(v, rounds=rounds, seed=seed)
        entry = {"evaluation": path, "left_out": len(s) - len(ids),
                 **{m: float(v[:, k].mean()) for k, m in enumerate(METRIC_NAMES)},
                 "ci95": {m: [float(lo[k]), float(hi[k])] for k, m in enumerate(METRIC_NAMES)}}
        if n:
            diff = v - values[0]
            lo, hi = mean_interval(diff, rounds=rounds, seed=seed)   # same seed: the same resamples
            entry["minus_first"] = {m: float(diff[:, k].mean()) for k, m in enumerate(METRIC_NAMES)}
            entry["minus_first_ci95"] = {m: [float(lo[k]), float(hi[k])] for k, m in enumerate(METRIC_NAMES)}
        report["evaluations"].append(entry)
    shares = _lesion_shares(paths[0], ids)
    if shares is not None:
        report["by_lesion_size"] = _by_lesion_size(ids, shares, values, rounds, seed)
    return report


def _lesion_shares(path: str, ids: list[str]) -> dict[str, float] | None:
    """Each image's lesion share of the frame, from the first evaluation (the truth is the same in
    all); None for a per-image file written without the size columns."""
    try:
        sizes = read_scores(path, SIZE_COLUMNS)
    except ValueError:
        return None
    return {i: lesion_share(sizes[i]) for i in ids}


def _by_lesion_size(ids: list[str], shares: dict[str, float], values: list[np.ndarray], rounds: int,
                    seed: int) -> list[dict]:
    """Per stratum of lesion share: each evaluation's Dice and thresholded Jaccard, and each later
    one's paired Dice difference from the first over that stratum's images."""
    dice, tj = METRIC_NAMES.index("dice"), METRIC_NAMES.index("threshold_jaccard")
    out = []
    for key, rows in group_by_stratum([shares[i] for i in ids]).items():
        entry = {"share": stratum_label(*key), "n_images": len(rows), "evaluations": []}
        for n, v in enumerate(values):
            scores = {"dice": float(v[rows, dice].mean()), "threshold_jaccard": float(v[rows, tj].mean())}
            if n:
                diff = v[rows, dice] - values[0][rows, dice]
                lo, hi = mean_interval(diff, rounds=rounds, seed=seed)
                scores["dice_minus_first"] = float(diff.mean())
                scores["dice_minus_first_ci95"] = [float(lo), float(hi)]
            entry["evaluations"].append(scores)
        out.append(entry)
    return out


SHOWN = ("dice", "threshold_jaccard", "jaccard", "sensitivity", "specificity")
DIFFERENCES = ("dice", "threshold_jaccard")


def markdown(report: dict) -> str:
    def with_ci(value: float, lo_hi: list[float], signed: bool = False) -> str:
        f = "{:+.3f}" if signed else "{:.3f}"
        return f"{f.format(value)} ({f.format(lo_hi[0])} to {f.format(lo_hi[1])})"

    head = ["evaluation", "Dice (95% CI)", "thr. Jaccard (95% CI)", "Jaccard", "sensitivity", "specificity",
            "Dice − first (95% CI)", "thr. Jaccard − first (95% CI)"]
    lines = [f"{report['n_images']} images resampled {report['rounds']} times (95% percentile intervals; "
             "differences paired by image, from the first row)", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for e in report["evaluations"]:
        cells = [e["evaluation"] + (f" ({e['left_out']} images left out)" if e["left_out"] else "")]
        cells += [with_ci(e[m], e["ci95"][m]) for m in SHOWN[:2]] + [f"{e[m]:.3f}" for m in SHOWN[2:]]
        cells += ([with_ci(e["minus_first"][m], e["minus_first_ci95"][m], signed=True) for m in DIFFERENCES]
                  if "minus_first" in e else ["—"] * len(DIFFERENCES))
        lines.append("| " + " | ".join(cells) + " |")
    if report.get("by_lesion_size"):
        lines += ["", _strata_markdown(report, with_ci)]
    return "\n".join(lines) + "\n"


def _short_names(paths: list[str]) -> list[str]:
    """The shortest trailing parts of the paths that still tell them apart (column headers)."""
    parts = [Path(p).parts or (p,) for p in paths]
    for depth in range(1, max(len(x) for x in parts) + 1):
        names = ["/".join(x[-depth:]) for x in parts]
        if len(set(names)) == len(names):
            return names
    return paths


def _strata_markdown(report: dict, with_ci) -> str:
    names = _short_names([e["evaluation"] for e in report["evaluations"]])
    head = ["lesion share of the frame", "images"]
    for n, name in enumerate(names):
        head += [f"{name}: Dice", f"{name}: thr. Jaccard"] + ([f"{name}: Dice − first (95% CI)"] if n else [])
    lines = ["By the annotated lesion's share of the frame (from the first evaluation's per-image sizes):", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for stratum in report["by_lesion_size"]:
        cells = [stratum["share"], str(stratum["n_images"])]
        for e in stratum["evaluations"]:
            cells += [f"{e['dice']:.3f}", f"{e['threshold_jaccard']:.3f}"]
            if "dice_minus_first" in e:
                cells.append(with_ci(e["dice_minus_first"], e["dice_minus_first_ci95"], signed=True))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_comparison(report: dict, out_dir: Path | str) -> None:
    """comparison.json (the report) and comparison.md (its markdown table)."""
    write_json_and_markdown(out_dir, "comparison", report, markdown(report))
