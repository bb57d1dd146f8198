"""`dermaseg classify experiment GRID.yaml`: a comparison grid (sampling x split ratio x backbone x seed ...).

A grid file names a base recipe, overrides for every cell (the budget), and the axes:

    base: ../classify_ham10000_lite0.yaml     # relative to the grid file
    overrides: {train.epochs: 4}
    grid:
      sampling: [undersample, oversample]     # -> train.sampling
      ratios: ["80:20", "70:30", "40:60"]     # -> data.ratios
      backbone: [efficientnet-lite0]          # -> model.backbone
      seed: [0, 1]                            # -> seed and data.split_seed
    out: runs/experiments/seed_table          # default: runs/experiments/<grid file stem>

Any other axis is a dotted config key (e.g. ``data.split: [grouped, image]``). Each cell is a
normal run folder under ``<out>/cells/``; a cell whose folder holds summary.json is finished
and skipped, a cell folder without it was interrupted and is run again from scratch. A cell
that fails (e.g. ImageNet weights that cannot be downloaded offline) leaves error.txt in its
folder and the grid goes on with the next. After
every cell the grid's results.csv, results.md (a table shaped like the reference study's:
technique, split ratio, accuracy, balanced accuracy, macro F1) and results.png are rewritten.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import sys
import time
from pathlib import Path

import yaml

from dermaseg.core.config import nested, parse_override, read_yaml, refuse_unknown

GRID_KEYS = ("name", "description", "base", "overrides", "grid", "out", "seed_varies_split", "budget")
AXIS_KEYS = {"sampling": "train.sampling", "ratios": "data.ratios", "ratio": "data.ratios",
             "backbone": "model.backbone", "seed": "seed", "split": "data.split", "crop": "data.crop",
             "trainable_stages": "train.trainable_stages", "task": "data.task"}
TECHNIQUE_NAMES = {"none": "No resampling", "undersample": "Undersampling", "oversample": "Oversampling",
                   "class_weight": "Class-weighted loss", "weighted_sampler": "Weighted sampler"}
BACKBONE_NAMES = {"efficientnet-lite0": "EfficientNet-Lite0", "efficientnet-lite1": "EfficientNet-Lite1",
                  "efficientnet-lite2": "EfficientNet-Lite2", "densenet169": "DenseNet-169", "resnet50": "ResNet-50",
                  "resnet18": "ResNet-18", "mobilenetv3": "MobileNet-V3", "mobilenet_v3_large": "MobileNet-V3"}


def load_grid(path: Path | str) -> dict:
    path = Path(path)
    spec = read_yaml(path, "grid")
    if not isinstance(spec.get("grid"), dict) or not spec["grid"]:
        raise ValueError(f"{path}: a grid file needs a 'grid:' mapping of axis -> list of values")
    refuse_unknown(spec, GRID_KEYS, "grid", path)
    for axis, values in spec["grid"].items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{path}: grid axis {axis!r} must be a non-empty list")
    if spec.get("base"):
        spec["base"] = str((path.parent / spec["base"]).resolve()) if not Path(spec["base"]).is_absolute() \
            else spec["base"]
    spec.setdefault("out", str(Path("runs") / "experiments" / path.stem))
    spec.setdefault("overrides", {})
    spec.setdefault("seed_varies_split", True)
    return spec


def cells(spec: dict) -> list[dict]:
    """Every combination of the axes, as {axis: value}, in file order (last axis fastest)."""
    axes = list(spec["grid"])
    return [dict(zip(axes, combo)) for combo in itertools.product(*(spec["grid"][a] for a in axes))]


def cell_name(cell: dict) -> str:
    def clean(v) -> str:
        return re.sub(r"[^A-Za-z0-9.+-]+", "-", str(v)).strip("-")

    return "__".join(f"{'s' if axis == 'seed' else ''}{clean(v)}" for axis, v in cell.items())


def cell_overrides(spec: dict, cell: dict) -> list[dict]:
    out = [parse_override(f"{k}={json.dumps(v) if not isinstance(v, str) else v}") for k, v in spec["overrides"].items()]
    for axis, value in cell.items():
        key = AXIS_KEYS.get(axis, axis)
        out.append(nested(key, value))
        if key == "seed" and spec["seed_varies_split"]:
            out.append(nested("data.split_seed", value))
    return out


def run_grid(grid_path: Path | str, out: Path | str | None = None, *, dry_run: bool = False,
             train_fn=None, progress: bool = True) -> "pandas.DataFrame":  # noqa: F821
    """Run the unfinished cells, then write results.csv / results.md / results.png; returns the results."""
    from dermaseg.classify.config import load_config

    spec = load_grid(grid_path)
    out = Path(out or spec["out"])
    if train_fn is None:
        from dermaseg.classify.train import train_classifier as train_fn
    todo = cells(spec)
    configs = []
    for cell in todo:   # validate every cell before spending time on the first
        configs.append(load_config(spec.get("base"), cell_overrides(spec, cell)))
    out.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    (out / "grid.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    for i, (cell, config) in enumerate(zip(todo, configs), 1):
        cell_dir = out / "cells" / cell_name(cell)
        if (cell_dir / "summary.json").is_file():
            print(f"[{i}/{len(todo)}] {cell_dir.name}: finished, skipped", file=sys.stderr)
            continue
        if dry_run:
            print(f"[{i}/{len(todo)}] {cell_dir.name}: to run", file=sys.stderr)
            continue
        if cell_dir.exists():
            print(f"[{i}/{len(todo)}] {cell_dir.name}: interrupted earlier, running it again", file=sys.stderr)
            shutil.rmtree(cell_dir)
        else:
            print(f"[{i}/{len(todo)}] {cell_dir.name}: running", file=sys.stderr)
        config["train"]["progress"] = bool(progress and config["train"]["progress"])
        started = time.perf_counter()
        try:
            train_fn(config, cell_dir)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as error:  # one cell that cannot run (weights offline, bad data) must not stop the grid
            failed.append(cell_dir.name)
            cell_dir.mkdir(parents=True, exist_ok=True)
            (cell_dir / "error.txt").write_text(f"{type(error).__name__}: {error}\n")
            print(f"[{i}/{len(todo)}] {cell_dir.name}: FAILED ({type(error).__name__}: {str(error)[:300]}); "
                  f"going on, it runs again next time", file=sys.stderr)
            continue
        print(f"[{i}/{len(todo)}] {cell_dir.name}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        write_results(spec, out, todo)
    if failed:
        print(f"{len(failed)} cell(s) failed, see error.txt in each: {', '.join(failed)}", file=sys.stderr)
    df = write_results(spec, out, todo)
    df.attrs["failed"] = failed
    return df


def collect(spec: dict, out: Path, todo: list[dict]):
    import pandas as pd

    rows = []
    for cell in todo:
        summary_path = out / "cells" / cell_name(cell) / "summary.json"
        if not summary_path.is_file():
            continue
        s = json.loads(summary_path.read_text())
        config = yaml.safe_load((summary_path.parent / "config.yaml").read_text())
        rows.append({"cell": summary_path.parent.name, **{a: v for a, v in cell.items()},
                     "technique": config["train"]["sampling"], "ratio": config["data"]["ratios"],
                     "backbone": config["model"]["backbone"], "seed_value": config["seed"],
                     "split": config["data"]["split"],
                     "accuracy": s["accuracy"], "balanced_accuracy": s["balanced_accuracy"],
                     "macro_f1": s["macro_f1"], "macro_auc": s["macro_auc"], "n_train": s["n_train"],
                     "n_test": s["n_test"], "best_epoch": s["best_epoch"], "fit_seconds": s["fit_seconds"],
                     "total_seconds": s["total_seconds"]})
    return pd.DataFrame(rows)


def _axis_value(axis: str, value) -> str:
    if AXIS_KEYS.get(axis, axis) == "model.weights":
        from dermaseg.models.classifier import random_init

        return "ImageNet" if value == "imagenet" else "scratch" if random_init(value) else f"weights {value}"
    return f"{axis}={value}"


def _label(row, extra_axes: list[str]) -> str:
    name = TECHNIQUE_NAMES.get(row["technique"], row["technique"])
    label = f"{name} using {BACKBONE_NAMES.get(row['backbone'], row['backbone'])}"
    extras = [_axis_value(a, row[a]) for a in extra_axes]
    return label + (f" ({', '.join(extras)})" if extras else "")


def labelled(df, spec: dict):
    """df with a `label` column: technique, backbone and every other axis but ratio and seed."""
    extra_axes = [a for a in spec["grid"] if AXIS_KEYS.get(a, a) not in
                  ("train.sampling", "data.ratios", "model.backbone", "seed")]
    df = df.copy()
    df["label"] = [_label(r, extra_axes) for _, r in df.iterrows()]
    return df


def markdown_table(df, spec: dict) -> str:
    """technique | split ratio | accuracy | balanced accuracy | macro F1 (mean ± sd over seeds, in %)."""
    if df.empty:
        return "_no finished cells yet_\n"
    df = labelled(df, spec)
    lines = ["| technique | split ratio | accuracy | balanced accuracy | macro F1 | seeds |",
             "| --- | --- | --- | --- | --- | --- |"]
    for (label, ratio), g in df.groupby(["label", "ratio"], sort=False):
        def fmt(col):
            m = 100 * g[col].mean()
            return f"{m:.2f} %" if len(g) == 1 else f"{m:.2f} ± {100 * g[col].std():.2f} %"

        lines.append(f"| {label} | {ratio} | {fmt('accuracy')} | {fmt('balanced_accuracy')} | {fmt('macro_f1')} "
                     f"| {len(g)} |")
    return "\n".join(lines) + "\n"


def write_results(spec: dict, out: Path, todo: list[dict]):
    from dermaseg.classify.plots import plot_grid

    df = collect(spec, out, todo)
    df.to_csv(out / "results.csv", index=False)
    title = spec.get("name") or out.name
    budget = spec.get("budget")
    text = [f"# {title}\n", f"{len(df)} of {len(todo)} cells finished.\n"]
    if budget:
        text.append(f"Budget: {budget}\n")
    text.append(markdown_table(df, spec))
    (out / "results.md").write_text("\n".join(text))
    if not df.empty:
        plot_grid(labelled(df, spec), out / "results.png", title=title)
    return df
