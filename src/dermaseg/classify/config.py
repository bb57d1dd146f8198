"""Classification recipes: YAML merged over DEFAULTS, `key.sub=value` overrides; unknown keys are errors."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from dermaseg.train.config import _merge, parse_override, read_recipe

DEFAULTS: dict = {
    "seed": 0,
    "data": {
        "root": "../shared/data/ham10000",  # any layout open_dataset() reads, with diagnoses
        "task": "auto",                      # auto: the diagnoses present | melanoma: melanoma vs rest
        "split_file": None,                  # CSV image_id,split; made from `ratios` when absent
        "ratios": "80:20",                   # train:test (val carved from train) or train:val:test
        "split": "grouped",                  # grouped: by lesion_id | image: naive image-level (leaks)
        "split_seed": 0,
        "val_fraction": 0.1,                 # of the train part, to choose the best epoch
        "limit_images": None,                # a seeded random subset, for smoke tests
        "crop": "none",                      # none | segmenter | ground_truth (crop to the lesion first)
        "crop_margin": 0.15,
        "segmenter": None,                   # segmentation model for crop: segmenter (default: shipped)
        "cache_dir": "runs/cache",           # decoded images and frozen features, reused across runs
    },
    "model": {
        "backbone": "efficientnet-lite0",
        "weights": "imagenet",               # imagenet | null | path to a weights file
        "dropout": 0.0,                      # before the classifier (the reference study uses 0.5)
    },
    "pipeline": {"size": 160, "keep_aspect": False},   # PipelineConfig; normalise follows the backbone
    "train": {
        "trainable_stages": 3,               # int: train the last N stages on cached frozen features
                                             # (0 = classifier only); all: fine-tune everything on images
        "views": 8,                          # cached mode: views per image (dihedral 0..7, then augmented)
        "augment": {},                       # albumentations spec (all mode; cached mode views >= 8)
        "sampling": "none",                  # none | undersample | oversample | class_weight | weighted_sampler
        "class_weight_power": 1.0,           # class_weight / weighted_sampler: weights ** power (0.5: milder)
        "epochs": 10,
        "batch_size": 64,
        "optimizer": "adam",                 # adam | adamw
        "lr": 1.0e-3,
        "backbone_lr_factor": 0.1,           # LR of the pretrained stages that train = lr * factor
        "freeze_epochs": 1,                  # classifier-only epochs before those stages train
        "weight_decay": 0.0,
        "label_smoothing": 0.0,
        "scheduler": "cosine",               # cosine | none
        "samples_per_epoch": None,           # draws per epoch (null: one pass over the resampled set)
        "select": "balanced_accuracy",       # validation metric that picks the kept epoch
        "tta_views": 8,                      # dihedral views averaged at evaluation and prediction
        "val_tta_views": None,               # views for the per-epoch validation (null: tta_views); fewer
                                             # make whole-network epochs cheaper, the test still uses tta_views
        "num_workers": 0,
        "max_time_minutes": None,
        "threads": None,                     # torch CPU threads (default: torch's choice)
        "progress": True,
        # whole-network mode (trainable_stages: all); cached mode trains on the CPU in fp32
        "accelerator": "auto",               # auto: a CUDA GPU when present, else the CPU | cpu | gpu
        "precision": None,                   # null: bf16-mixed where the GPU or CPU runs bf16 natively, else
                                             # 16-mixed (GPU) / 32-true | 32-true | bf16-mixed | 16-mixed (GPU)
        "channels_last": True,               # NHWC memory layout: faster convolutions, above all under bf16
    },
}


# Mixed precision keeps the weights (and what is saved) in fp32; bf16-true / 16-true are left out.
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda")


def load_config(path: Path | str | None = None, overrides: list[str] | None = None,
                base: dict | None = None) -> dict:
    config = copy.deepcopy(base if base is not None else DEFAULTS)
    if path is not None:
        loaded = read_recipe(path)
        config = _merge(config, loaded, DEFAULTS)
    for item in overrides or []:
        config = _merge(config, parse_override(item) if isinstance(item, str) else item, DEFAULTS)
    validate(config)
    return config


def validate(config: dict) -> None:
    from dermaseg.classify.model import backbone_spec
    from dermaseg.classify.sampling import check_method
    from dermaseg.classify.splits import SPLIT_MODES
    from dermaseg.classify.crop import CROP_MODES
    from dermaseg.classify.labels import TASKS
    from dermaseg.transforms.pipeline import PipelineConfig

    backbone_spec(config["model"]["backbone"])
    config["train"]["sampling"] = check_method(config["train"]["sampling"])
    d, t = config["data"], config["train"]
    if d["split"] not in SPLIT_MODES:
        raise ValueError(f"data.split must be one of {SPLIT_MODES}, got {d['split']!r}")
    if d["crop"] not in CROP_MODES:
        raise ValueError(f"data.crop must be one of {CROP_MODES}, got {d['crop']!r}")
    if d["task"] not in TASKS:
        raise ValueError(f"data.task must be one of {TASKS}, got {d['task']!r}")
    stages = t["trainable_stages"]
    if stages != "all" and (isinstance(stages, bool) or not isinstance(stages, int) or stages < 0):
        raise ValueError(f"train.trainable_stages must be 'all' or an integer >= 0, got {stages!r}")
    for key in ("tta_views", "val_tta_views"):
        if t[key] is not None and not 1 <= int(t[key]) <= 8:
            raise ValueError(f"train.{key} must lie in 1..8, got {t[key]}")
    if stages != "all" and int(t["views"]) < int(t["tta_views"]):
        raise ValueError(f"train.views ({t['views']}) must be at least train.tta_views ({t['tta_views']})")
    if t["precision"] is not None and t["precision"] not in PRECISIONS:
        raise ValueError(f"train.precision must be null or one of {PRECISIONS}, got {t['precision']!r}")
    if t["accelerator"] not in ACCELERATORS:
        raise ValueError(f"train.accelerator must be one of {ACCELERATORS}, got {t['accelerator']!r}")
    if t["select"] not in ("balanced_accuracy", "accuracy", "macro_f1", "loss"):
        raise ValueError(f"train.select must be balanced_accuracy, accuracy, macro_f1 or loss, got {t['select']!r}")
    PipelineConfig.from_dict(pipeline_dict(config))


def pipeline_dict(config: dict) -> dict:
    """The pipeline section with the backbone's input normalisation filled in."""
    from dermaseg.classify.model import backbone_spec

    p = dict(config["pipeline"])
    p.setdefault("normalise", backbone_spec(config["model"]["backbone"]).normalise)
    p.pop("augment", None)
    return p
