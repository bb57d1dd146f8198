"""`dermaseg train`: data preparation, the Lightning Trainer, and the run folder.

A run folder holds: config.yaml (resolved), environment.json (seed, versions, command),
split.csv, metrics.csv (one row per epoch), learning_curves.png, checkpoints/best.ckpt and
checkpoints/last.ckpt (resume), and model.pt (compact best model, enough to predict).
Re-running the same command on the same folder resumes from the newest checkpoint.
"""

from __future__ import annotations

import json
import re
import sys
import time
import warnings
from collections import Counter
from datetime import timedelta
from pathlib import Path

import lightning as L
import numpy as np

from dermaseg.data.quality import DataQualityWarning
from dermaseg.data.readers import LesionDataset, open_dataset
from dermaseg.data.splits import make_split, parse_ratios, read_split, write_split
from dermaseg.training.curves import record_epoch
from dermaseg.training.runfolder import default_precision, uses_gpu, write_config, write_environment

METRIC_COLUMNS = ["epoch", "train_loss", "valid_loss", "accuracy", "dice", "jaccard", "train_dice", "lr", "time"]


def prepare_splits(config: dict, run_dir: Path) -> tuple[LesionDataset, dict[str, list[str]]]:
    """Open the data and decide train/val/test ids; extra_train roots join the training side only."""
    d = config["data"]
    ds = open_dataset(d["root"], require_masks=True)
    split_path = run_dir / "split.csv"
    if d["split_file"]:
        mapping = read_split(d["split_file"])
    elif split_path.exists():
        mapping = read_split(split_path)
    else:
        ratios = parse_ratios(str(d["ratios"]))
        mapping = make_split(ds.records, ratios, seed=int(d["split_seed"]))
        if len(ratios) == 2 and d["val_fraction"]:
            train_records = [r for r in ds.records if mapping.get(r.image_id) == "train"]
            inner = make_split(train_records, (1 - d["val_fraction"], d["val_fraction"]), seed=int(d["split_seed"]) + 1)
            mapping.update({i: ("val" if s == "test" else "train") for i, s in inner.items()})
    known = {r.image_id for r in ds.records}
    mapping = {i: s for i, s in mapping.items() if i in known}
    ids = {s: sorted(i for i, v in mapping.items() if v == s) for s in ("train", "val", "test")}

    records = list(ds.records)
    rng = np.random.Generator(np.random.PCG64(int(config["seed"])))
    extra_ids: list[str] = []
    for root in d["extra_train"] or []:
        extra = [r for r in open_dataset(root).records if r.mask_path is not None]
        records += extra
        extra_ids += [r.image_id for r in extra]
    if d["extra_train_limit"] is not None and len(extra_ids) > int(d["extra_train_limit"]):
        keep = set(rng.choice(sorted(extra_ids), int(d["extra_train_limit"]), replace=False).tolist())
        records = [r for r in records if r.image_id not in set(extra_ids) - keep]
        extra_ids = sorted(keep)
    mapping.update({i: "extra_train" for i in extra_ids})
    ids["train"] = ids["train"] + extra_ids
    limit = config["train"]["limit_train_images"]
    if limit:
        ids["train"] = ids["train"][: int(limit)]
        ids["val"] = ids["val"][: max(4, int(limit) // 4)]
    write_split(split_path, mapping)
    if not ids["train"] or not ids["val"]:
        raise ValueError(f"{d['root']}: the split leaves no training or validation images ({ {k: len(v) for k, v in ids.items()} })")
    return LesionDataset(records, require_masks=True), ids


def _usable(build, root, part: str):
    """The dataset `build()` makes, its data warnings shown as usual; if none of its images is
    usable, one line saying so and why (counts by problem, one example) instead of a warning
    per file followed by a sampler's error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataQualityWarning)
        dataset = build()
    problems = [str(w.message) for w in caught if issubclass(w.category, DataQualityWarning)]
    if len(dataset) == 0:
        codes = Counter(m.group(1) if (m := re.match(r"\[(\w+)\]", text)) else "other" for text in problems)
        why = ", ".join(f"{n} {code.replace('_', ' ')}" for code, n in codes.most_common()) or "no reason recorded"
        example = f"; e.g. {problems[0]}" if problems else ""
        raise ValueError(f"{root}: no usable image/mask pair among the {part} images ({why}){example}")
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=2)
    return dataset


class MetricsTable(L.Callback):
    """Writes metrics.csv (one row per epoch) and refreshes learning_curves.png."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / "metrics.csv"
        self.run_dir = run_dir
        self._losses: list[float] = []
        self._dices: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self._losses, self._dices = [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._losses.append(float(outputs["loss"]))
        self._dices.append(float(outputs["dice"]))

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        m = trainer.callback_metrics
        row = {
            "epoch": trainer.current_epoch,
            "train_loss": float(np.mean(self._losses)) if self._losses else float("nan"),
            "valid_loss": float(m.get("valid_loss", float("nan"))),
            "accuracy": float(m.get("accuracy", float("nan"))),
            "dice": float(m.get("dice", float("nan"))),
            "jaccard": float(m.get("jaccard", float("nan"))),
            "train_dice": float(np.mean(self._dices)) if self._dices else float("nan"),
            "lr": trainer.optimizers[0].param_groups[-1]["lr"],
            "time": round(time.perf_counter() - pl_module.epoch_started, 1),
        }
        record_epoch(self.path, row, METRIC_COLUMNS)
        try:
            from dermaseg.training.curves import plot_learning_curves

            plot_learning_curves(self.path, self.run_dir / "learning_curves.png")
        except Exception as exc:  # noqa: BLE001 - a plot must never stop a training run
            print(f"warning: could not draw learning curves: {exc}", file=sys.stderr)


def _newest_checkpoint(ckpt_dir: Path) -> Path | None:
    found = [p for p in ckpt_dir.glob("*.ckpt") if p.name in ("last.ckpt", "interval.ckpt")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def train(config: dict, run_dir: Path | str) -> dict:
    """Fit (or resume) a run; returns a summary dict."""
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from dermaseg.segment.modelfile import save_model_file
    from dermaseg.segment.config import SCHEMA
    from dermaseg.segment.module import SegmentationModule
    from dermaseg.segment.dataset import SegmentationDataset
    from dermaseg.transforms.pipeline import PipelineConfig

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, config, SCHEMA, "use another --out folder, or the same config to resume")
    ckpt_dir = run_dir / "checkpoints"
    resume_from = _newest_checkpoint(ckpt_dir)
    write_environment(run_dir, config, resume_from)

    L.seed_everything(int(config["seed"]), workers=True, verbose=False)
    t = config["train"]
    ds, ids = prepare_splits(config, run_dir)
    pipe = PipelineConfig.from_dict(config["pipeline"])
    train_set = _usable(lambda: SegmentationDataset(ds, ids["train"], pipe, train=True, seed=int(config["seed"])),
                        config["data"]["root"], f"{len(ids['train'])} training")
    val_set = _usable(lambda: SegmentationDataset(ds, ids["val"], pipe, train=False), config["data"]["root"],
                      f"{len(ids['val'])} validation")
    loader_args = dict(batch_size=int(t["batch_size"]), num_workers=int(t["num_workers"]),
                       persistent_workers=int(t["num_workers"]) > 0)
    train_loader = torch.utils.data.DataLoader(train_set, shuffle=True, drop_last=len(train_set) > t["batch_size"],
                                               **loader_args)
    val_loader = torch.utils.data.DataLoader(val_set, shuffle=False, **loader_args)

    module = SegmentationModule(config)
    if config["model"]["init_from"]:
        from dermaseg.segment.modelfile import init_from

        loaded = init_from(module.model, config["model"]["init_from"])
        print(f"starting from {config['model']['init_from']}: {loaded}", file=sys.stderr)

    accelerator = t["accelerator"]
    precision = t["precision"] or default_precision(accelerator)
    print(f"training on {'GPU' if uses_gpu(accelerator) else 'CPU'} with precision {precision}", file=sys.stderr)
    best = ModelCheckpoint(ckpt_dir, filename="best", monitor="dice", mode="max", save_top_k=1,
                           enable_version_counter=False)
    # last.ckpt after every epoch, not only after a new best (Lightning >= 2.6 ties save_last to a
    # top-k save), so a killed run resumes from its latest epoch.
    latest = ModelCheckpoint(ckpt_dir, filename="last", save_top_k=1, enable_version_counter=False)
    interval = ModelCheckpoint(ckpt_dir, filename="interval", save_top_k=1, enable_version_counter=False,
                               train_time_interval=timedelta(minutes=float(t["checkpoint_every_minutes"])))
    callbacks = [best, latest, interval, MetricsTable(run_dir)]
    if t["early_stopping_patience"]:
        callbacks.append(EarlyStopping(monitor="dice", mode="max", patience=int(t["early_stopping_patience"])))
    trainer = L.Trainer(
        default_root_dir=run_dir,
        max_epochs=int(t["epochs"]),
        max_time=timedelta(minutes=float(t["max_time_minutes"])) if t["max_time_minutes"] else None,
        accelerator=accelerator,
        devices=t["devices"],
        num_nodes=int(t["num_nodes"]),
        strategy=t["strategy"],
        precision=precision,
        callbacks=callbacks,
        logger=False,
        log_every_n_steps=10,
        enable_progress_bar=True,
        deterministic=False,
    )
    started = time.perf_counter()
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(resume_from) if resume_from else None)
    summary = {"run_dir": str(run_dir), "epochs_completed": trainer.current_epoch,
               "fit_seconds_this_process": round(time.perf_counter() - started, 1),
               "train_images": len(train_set), "val_images": len(val_set), "test_images": len(ids["test"])}
    if trainer.is_global_zero:
        best_path = Path(best.best_model_path) if best.best_model_path else ckpt_dir / "last.ckpt"
        state = torch.load(best_path, map_location="cpu", weights_only=False)
        weights = {k[len("model."):]: v for k, v in state["state_dict"].items() if k.startswith("model.")}
        summary["best_val_dice"] = float(best.best_model_score) if best.best_model_score is not None else None
        summary["best_epoch"] = state.get("epoch")
        save_model_file(run_dir / "model.pt", weights, config, threshold=float(t["threshold"]),
                        info={"best_val_dice": summary["best_val_dice"], "epoch": state.get("epoch"),
                              "data_root": config["data"]["root"], "run_dir": str(run_dir)}, fp16=False)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        print(f"best validation Dice {summary['best_val_dice']}; model written to {run_dir / 'model.pt'}")
    return summary
