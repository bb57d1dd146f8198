"""Classification recipes: YAML merged over SCHEMA's defaults, `key.sub=value` overrides.

Unknown keys, wrong types and values outside a key's choices are errors on load, before any
image is read. The loader is dermaseg.core.config.
"""

from __future__ import annotations

from pathlib import Path

from dermaseg.classify.crop import CROP_MODES
from dermaseg.classify.labels import TASKS
from dermaseg.classify.sampling import check_method
from dermaseg.classify.splits import SPLIT_MODES
from dermaseg.core.config import OPTIMIZERS, Key, defaults, load, positive

# Mixed precision keeps the weights (and what is saved) in fp32; bf16-true / 16-true are left out.
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda")
# accuracy_balanced_mean: (accuracy + balanced accuracy) / 2, the criterion `classify calibrate` uses
SELECT = ("balanced_accuracy", "accuracy", "accuracy_balanced_mean", "macro_f1", "loss")


def _backbone(name: str) -> str:
    from dermaseg.models.backbones import backbone_spec

    backbone_spec(name)
    return name


def _head_init(name: str) -> str:
    from dermaseg.models.classifier import HEAD_INITS

    if name not in HEAD_INITS:
        raise ValueError(f"must be one of {', '.join(HEAD_INITS)}, got {name!r}")
    return name


def _stages(value):
    if value != "all" and (isinstance(value, str) or value < 0):
        raise ValueError(f"must be 'all' or an integer >= 0, got {value!r}")
    return value


SCHEMA: dict = {
    "seed": Key(0, int),
    "data": {
        "root": Key("../shared/data/ham10000", str),  # any layout open_dataset() reads, with diagnoses
        "task": Key("auto", str, choices=TASKS),       # auto: the diagnoses present | melanoma: melanoma vs rest
        # more labelled sources trained on together with `root`: each is split on its own exactly as
        # `root` is (so every source keeps its own held-out part), its diagnoses renamed by class_map
        "joint": Key([], list, None),
        "class_map": Key({}, dict),                    # e.g. {melanoma: mel, seborrheic_keratosis: bkl, nevus: nv}
        "split_file": Key(None, str, None),            # CSV image_id,split; made from `ratios` when absent
        "ratios": Key("80:20", str),                   # train:test (val carved from train) or train:val:test
        "split": Key("grouped", str, choices=SPLIT_MODES),  # grouped: by lesion_id | image: naive image-level (leaks)
        "split_seed": Key(0, int),
        "val_fraction": Key(0.1, float, low=0.0, high=1.0),  # of the train part, to choose the best epoch
        "limit_images": Key(None, int, None, low=0),   # a seeded random subset, for smoke tests
        "crop": Key("none", str, choices=CROP_MODES),  # none | segmenter | ground_truth (crop to the lesion first)
        "crop_margin": Key(0.15, float, low=0.0),
        "segmenter": Key(None, str, None),             # segmentation model for crop: segmenter (default: shipped)
        "cache_dir": Key("runs/cache", str),           # decoded images and frozen features, reused across runs
    },
    "model": {
        "backbone": Key("efficientnet-lite0", str, check=_backbone),
        "weights": Key("imagenet", str, None),         # imagenet | null | path to a weights file
        "dropout": Key(0.0, float, low=0.0, high=1.0),  # before the classifier (the reference study uses 0.5)
        # timm: the backbone's own initialisation of the new classifier (for EfficientNet, weights drawn
        # from +-1/sqrt(classes): confident, wrong first predictions); zero: all-zero weights and bias, uniform predictions
        # at the start, so a classifier-only first epoch (train.freeze_epochs) fits the head on
        # features it does not have to unlearn first
        "head_init": Key("timm", str, check=_head_init),
    },
    "pipeline": Key({"size": 160, "keep_aspect": False}, dict),  # PipelineConfig; normalise follows the backbone
    "train": {
        # int: train the last N stages on cached frozen features (0 = classifier only);
        # all: fine-tune everything on images
        "trainable_stages": Key(3, int, str, check=_stages),
        "views": Key(8, int, low=1),                   # cached mode: views per image (dihedral 0..7, then augmented)
        "augment": Key({}, dict),                      # albumentations spec (all mode; cached mode views >= 8)
        # none | undersample | oversample | class_weight | weighted_sampler (aliases such as undersampling too)
        "sampling": Key("none", str, check=check_method),
        "class_weight_power": Key(1.0, float),         # class_weight / weighted_sampler: weights ** power (0.5: milder)
        "epochs": Key(10, int, low=1),
        "batch_size": Key(64, int, low=1),
        "optimizer": Key("adam", str, choices=OPTIMIZERS, fold=True),
        "lr": Key(1.0e-3, float, check=positive),
        "backbone_lr_factor": Key(0.1, float),         # LR of the pretrained stages that train = lr * factor
        "freeze_epochs": Key(1, int, None, low=0),     # classifier-only epochs before those stages train
        "weight_decay": Key(0.0, float),
        "adamw_weight_decay": Key(1e-2, float),        # AdamW's decay where weight_decay is 0
        "label_smoothing": Key(0.0, float, low=0.0, high=1.0),
        "scheduler": Key("cosine", str, None, choices=("cosine", "none"), fold=True),
        "samples_per_epoch": Key(None, int, None, low=0),  # draws per epoch (null: one pass over the resampled set)
        "select": Key("balanced_accuracy", str, choices=SELECT),  # validation metric that picks the kept epoch
        "tta_views": Key(8, int, low=1, high=8),       # dihedral views averaged at evaluation and prediction
        # views for the per-epoch validation (null: tta_views); fewer make whole-network epochs
        # cheaper, the test still uses tta_views
        "val_tta_views": Key(None, int, None, low=1, high=8),
        "num_workers": Key(0, int, low=0),
        "max_time_minutes": Key(None, float, None),
        "threads": Key(None, int, None, low=0),        # torch CPU threads (default: torch's choice)
        "progress": Key(True, bool),
        # whole-network mode (trainable_stages: all); cached mode trains on the CPU in fp32
        "accelerator": Key("auto", str, choices=ACCELERATORS),  # auto: a CUDA GPU when present, else the CPU
        # null: bf16-mixed where the GPU or CPU runs bf16 natively, else 16-mixed (GPU) / 32-true
        "precision": Key(None, str, None, choices=PRECISIONS),
        "channels_last": Key(True, bool),              # NHWC memory layout: faster convolutions, above all under bf16
    },
}
DEFAULTS = defaults(SCHEMA)


def _check_across_keys(config: dict) -> None:
    from dermaseg.transforms.pipeline import PipelineConfig

    t = config["train"]
    if t["trainable_stages"] != "all" and t["views"] < t["tta_views"]:
        raise ValueError(f"train.views ({t['views']}) must be at least train.tta_views ({t['tta_views']})")
    try:
        PipelineConfig.from_dict(pipeline_dict(config))
    except ValueError as exc:
        raise ValueError(f"pipeline: {exc}") from None


def load_config(path: Path | str | None = None, overrides: list[str | dict] | None = None) -> dict:
    return load(SCHEMA, path, overrides, hooks=(_check_across_keys,))


def pipeline_dict(config: dict) -> dict:
    """The pipeline section with the backbone's input normalisation filled in."""
    from dermaseg.models.backbones import backbone_spec

    p = dict(config["pipeline"])
    p.setdefault("normalise", backbone_spec(config["model"]["backbone"]).normalise)
    p.pop("augment", None)
    return p
