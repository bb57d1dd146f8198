"""`dermaseg study STUDY.yaml`: a segmentation comparison table, every row from one command.

A study file names a base recipe, the budget every deep row shares, and the rows:

    base: ../isic2017_unet_lite0.yaml          # relative to the study file
    budget: [train.epochs=8, pipeline.size=192] # overrides applied to every deep row
    rows:
      - {name: Otsu, model: otsu}              # a classical method: scored, not trained
      - {name: U-Net / Lite0, overrides: [model.arch=unet]}
      - {name: FCN / ResNet-18 (scratch), overrides: [model.arch=fcn, model.encoder=resnet18,
                                                       model.encoder_weights=null], budget_factor: 0.5}
    out: runs/studies/architectures

Each deep row is a normal, resumable run folder under `<out>/runs/<slug>` (a row whose
folder holds summary.json is finished and not trained again); every row is then scored by
`dermaseg evaluate` on the base recipe's test split, at the images' own resolution. After
every row the study's results.csv, results.md and learning_curves.png (validation Dice per
epoch, and against training minutes: time to Dice) are rewritten.

Settings of the machine rather than the recipe (data workers, the accelerator, where the data
lives) are given on the command line (`--set key.sub=value ...`) and apply to every deep row.
`--jobs N` trains N rows at once, each in its own process (log: `<run folder>/train.log`): on a
GPU several small trainings share the device and the table fills in minutes; on a CPU keep one,
since rows that share cores slow each other and their train_minutes stop being comparable.

Every row's test Dice and thresholded Jaccard are also stated as a difference from the
reference row (`reference: NAME`, by default the first deep row), with a 95% paired-bootstrap
interval over the same test images: with a few hundred images a gap of 0.005 can be noise, and
the interval says which gaps are not. A row may name its own reference instead (a row with
another training seed, say, against the reference run with that seed):

      - {name: "loss BCE+Lovasz, seed 1", overrides: [train.loss=bce+lovasz, seed=1],
         reference: "reference, seed 1"}
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from dermaseg.core.config import read_recipe, refuse_unknown
from dermaseg.segment.compare import ROUNDS as BOOTSTRAP_ROUNDS
from dermaseg.segment.compare import paired_difference, read_scores
from dermaseg.segment.config import load_config

RESULT_COLUMNS = ["name", "arch", "encoder", "encoder_weights", "epochs", "train_minutes", "best_val_dice",
                  "jaccard", "threshold_jaccard", "dice", "accuracy", "sensitivity", "specificity",
                  "ms_per_image", "n_images", "dice_delta", "dice_delta_lo", "dice_delta_hi",
                  "threshold_jaccard_delta", "threshold_jaccard_delta_lo", "threshold_jaccard_delta_hi",
                  "compared_with"]
STUDY_KEYS = {"base", "budget", "rows", "out", "data", "limit", "reference"}
ROW_KEYS = {"name", "model", "overrides", "budget_factor", "reference"}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "row"


def load_study(path: Path | str, overrides: list[str] | None = None) -> dict:
    """Read and check a study file before any data is touched; `overrides` (machine settings)
    apply to every deep row after the budget and the row's own changes."""
    path = Path(path)
    spec = read_recipe(path)
    refuse_unknown(spec, STUDY_KEYS, "study", path)
    rows = spec.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path}: a study needs a non-empty 'rows:' list")
    names = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "name" not in row:
            raise ValueError(f"{path}: row {i + 1} must be a mapping with a 'name'")
        bad = set(row) - ROW_KEYS
        if bad:
            raise ValueError(f"{path}: row {row['name']!r}: unknown key(s) {', '.join(sorted(bad))}")
        if slug(row["name"]) in names:
            raise ValueError(f"{path}: two rows share the name {row['name']!r}")
        names.add(slug(row["name"]))
    base = spec.get("base")
    spec["base"] = str((path.parent / base).resolve()) if base and not Path(base).is_absolute() else base
    spec.setdefault("budget", [])
    spec["machine"] = list(overrides or [])
    spec.setdefault("out", f"runs/studies/{path.stem}")
    deep = [row["name"] for row in rows if "model" not in row]
    spec.setdefault("reference", deep[0] if deep else rows[0]["name"])
    for owner, reference in [("", spec["reference"])] + [(f" of row {r['name']!r}", r["reference"])
                                                          for r in rows if "reference" in r]:
        if reference not in [row["name"] for row in rows]:
            raise ValueError(f"{path}: reference{owner} {reference!r} is not one of the rows")
    # Every deep row's config is built now, so a typo fails before hours of training.
    spec["configs"] = {row["name"]: row_config(spec, row) for row in rows if "model" not in row}
    return spec


def _scaled(overrides: list[str], factor: float) -> list[str]:
    """A reduced budget for costly rows: epochs and minutes times `factor`."""
    out = []
    for text in overrides:
        key, _, value = text.partition("=")
        if key in ("train.epochs", "train.max_time_minutes") and value not in ("", "null"):
            value = str(max(1, round(float(value) * factor)) if key == "train.epochs" else float(value) * factor)
        out.append(f"{key}={value}")
    return out


def row_config(spec: dict, row: dict) -> dict:
    budget = _scaled(list(spec["budget"]), float(row.get("budget_factor", 1.0)))
    return load_config(spec["base"], budget + list(row.get("overrides", [])) + spec.get("machine", []))


def _test_split(config: dict, run_dir: Path | None) -> Path | None:
    if config["data"]["split_file"]:
        return Path(config["data"]["split_file"])
    if run_dir is not None and (run_dir / "split.csv").is_file():
        return run_dir / "split.csv"
    return None


def _selected(row: dict, only: list[str] | None) -> bool:
    return not only or row["name"] in only or slug(row["name"]) in only


def train_rows_in_parallel(spec: dict, out: Path, names: list[str], jobs: int) -> dict[str, str]:
    """Trains the named deep rows, `jobs` at a time, each by `dermaseg train` in its own process
    on the row's resolved config (written first, so a folder holding another config is refused
    here, as `train` would). Returns {row: why} for the rows whose process failed."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from dermaseg.segment.config import SCHEMA
    from dermaseg.training.runfolder import write_config

    def one(name: str) -> tuple[str, str | None]:
        run_dir = out / "runs" / slug(name)
        command = [sys.executable, "-m", "dermaseg.cli", "train", "--config", str(run_dir / "config.yaml"),
                   "--out", str(run_dir)]
        with open(run_dir / "train.log", "a") as log:
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        return name, None if done.returncode == 0 else f"exit {done.returncode}; see {run_dir / 'train.log'}"

    for name in names:
        run_dir = out / "runs" / slug(name)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(run_dir, spec["configs"][name], SCHEMA, "use another study --out folder")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return {name: why for name, why in pool.map(one, names) if why}


def run_study(path: Path | str, out: Path | str | None = None, *, only: list[str] | None = None,
              overrides: list[str] | None = None, jobs: int = 1) -> list[dict]:
    from dermaseg.segment.evaluate import evaluate
    from dermaseg.segment.train import train

    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    spec = load_study(path, overrides)
    out = Path(out or spec["out"])
    (out / "runs").mkdir(parents=True, exist_ok=True)
    (out / "study.yaml").write_text(Path(path).read_text())
    spec["title"] = Path(path).stem
    base = load_config(spec["base"], list(spec["budget"]) + spec["machine"])
    data_root = spec.get("data") or base["data"]["root"]
    failed: dict[str, str] = {}
    if jobs > 1:
        to_train = [row["name"] for row in spec["rows"] if "model" not in row and _selected(row, only)
                    and not (out / "runs" / slug(row["name"]) / "summary.json").is_file()]
        failed = train_rows_in_parallel(spec, out, to_train, jobs)
    results: list[dict] = []
    for row in spec["rows"]:
        run_dir = out / "runs" / slug(row["name"])
        if not _selected(row, only) or row["name"] in failed:
            if (run_dir / "row.json").is_file():   # scored before: the table keeps every finished row
                results.append(json.loads((run_dir / "row.json").read_text()))
            continue
        record = {"name": row["name"]}
        if "model" in row:
            model, config, split_file = row["model"], base, _test_split(base, None)
            record.update(arch=row["model"], encoder="-", encoder_weights="-", epochs=0, train_minutes=0.0)
        else:
            config = spec["configs"][row["name"]]
            summary_path = run_dir / "summary.json"
            if not summary_path.is_file():
                train(config, run_dir)
            summary = json.loads(summary_path.read_text())
            model, split_file = run_dir / "model.pt", _test_split(config, run_dir)
            m = config["model"]
            record.update(arch=m["arch"], encoder=m["encoder"], encoder_weights=m["encoder_weights"] or "scratch",
                          epochs=_epochs_done(run_dir), train_minutes=_train_minutes(run_dir),
                          best_val_dice=summary.get("best_val_dice"))
        scored = evaluate(model, data_root, run_dir / "test", split_file=split_file, limit=spec.get("limit"),
                          write_masks=False)
        record.update({k: scored[k] for k in ("jaccard", "threshold_jaccard", "dice", "accuracy", "sensitivity",
                                             "specificity", "n_images", "ms_per_image")})
        (run_dir / "row.json").write_text(json.dumps(record, indent=1))
        results.append(record)
        write_results(out, results, spec)
    if results:
        write_results(out, results, spec)   # rows scored before, after the last one run now
    if failed:
        raise ValueError("rows that failed to train (the others are scored): "
                         + "; ".join(f"{name} ({why})" for name, why in failed.items()))
    return results


def _metrics_rows(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _epochs_done(run_dir: Path) -> int:
    return len(_metrics_rows(run_dir))


def _train_minutes(run_dir: Path) -> float:
    return round(sum(float(r["time"]) for r in _metrics_rows(run_dir)) / 60.0, 1)


DELTA_METRICS = ("dice", "threshold_jaccard")


def _per_image(run_dir: Path) -> dict[str, dict[str, float]]:
    """{metric: {image id: value}} of a row's test scores, for the metrics stated as differences."""
    path = run_dir / "test" / "per_image.csv"
    if not path.is_file():
        return {}
    scores = read_scores(path, DELTA_METRICS)
    return {metric: {image: row[metric] for image, row in scores.items()} for metric in DELTA_METRICS}


def _add_differences(out: Path, results: list[dict], spec: dict) -> None:
    """Each row's test Dice and thresholded Jaccard minus its reference row's, paired by image."""
    references = {row["name"]: row.get("reference", spec["reference"]) for row in spec["rows"]}
    scores = {r["name"]: _per_image(out / "runs" / slug(r["name"])) for r in results}   # each file read once
    for r in results:
        reference = references.get(r["name"], spec["reference"])
        own = scores[r["name"]]
        base = scores[reference] if reference in scores else _per_image(out / "runs" / slug(reference))
        if not own or not base or r["name"] == reference:
            continue
        r["compared_with"] = reference
        for metric in DELTA_METRICS:
            r[f"{metric}_delta"], r[f"{metric}_delta_lo"], r[f"{metric}_delta_hi"] = paired_difference(
                base[metric], own[metric])


def _signed_interval(r: dict, metric: str) -> str:
    if r.get(f"{metric}_delta") is None:
        return ""
    return f"{r[f'{metric}_delta']:+.3f} ({r[f'{metric}_delta_lo']:+.3f} to {r[f'{metric}_delta_hi']:+.3f})"


def write_results(out: Path, results: list[dict], spec: dict) -> None:
    _add_differences(out, results, spec)
    with open(out / "results.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, RESULT_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(results)
    cols = ["name", "epochs", "train_minutes", "best_val_dice", "dice", "jaccard", "threshold_jaccard",
            "sensitivity", "specificity", "ms_per_image"]
    deltas = ["dice vs reference (95% CI)", "threshold_jaccard vs reference (95% CI)"]
    own_reference = any(r.get("compared_with") not in (None, spec["reference"]) for r in results)
    lines = [f"# Study: {spec.get('title', out.name)}", "", f"Budget for every deep row: {', '.join(spec['budget']) or 'the base recipe'}.",
             "Scored on the base recipe's test split at each image's own resolution. The two 'vs reference' "
             + ("columns: difference from the row named in the last column" if own_reference
                else f"columns: difference from the reference row ({spec['reference']})")
             + f", paired by image, with a 95% bootstrap interval ({BOOTSTRAP_ROUNDS} resamples of the test images).", "",
             "| " + " | ".join(cols + deltas + ["reference"] * own_reference) + " |",
             "|" + "---|" * (len(cols) + len(deltas) + own_reference)]
    for r in results:
        cells = [f"{r.get(c):.4f}" if isinstance(r.get(c), float) and c not in ("train_minutes", "ms_per_image")
                 else ("" if r.get(c) is None else str(r.get(c))) for c in cols]
        cells += [_signed_interval(r, "dice"), _signed_interval(r, "threshold_jaccard")]
        cells += [r.get("compared_with") or ""] * own_reference
        lines.append("| " + " | ".join(cells) + " |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    _plot_curves(out, results)


def _plot_curves(out: Path, results: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in results:
        rows = _metrics_rows(out / "runs" / slug(r["name"]))
        if not rows:
            continue
        dice = [float(x["dice"]) for x in rows]
        minutes, total = [], 0.0
        for x in rows:
            total += float(x["time"]) / 60.0
            minutes.append(total)
        by_epoch.plot(range(1, len(dice) + 1), dice, marker=".", label=r["name"])
        by_time.plot(minutes, dice, marker=".", label=r["name"])
    for ax, xlabel in ((by_epoch, "epoch"), (by_time, "training minutes")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("validation Dice")
        ax.grid(alpha=0.3)
    by_epoch.set_title("Learning curves")
    by_time.set_title("Time to Dice")
    if by_epoch.lines:
        by_time.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "learning_curves.png", dpi=110)
    plt.close(fig)
