"""Segmentation recipes: YAML files merged over SCHEMA's defaults, with `key.sub=value` overrides.

Unknown keys, wrong types and values outside a key's choices are errors on load, before any
image is read (a typo must not silently train the default). The loader is dermaseg.core.config.
"""

from __future__ import annotations

from pathlib import Path

from dermaseg.core.config import OPTIMIZERS, Key, defaults, load, positive, strictly_between_0_and_1

LOSSES = ("bce", "dice", "bce+dice", "focal", "tversky", "lovasz", "bce+lovasz")
SCHEDULERS = ("cosine", "onecycle", "plateau", "none")
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")

SCHEMA: dict = {
    "seed": Key(0, int),
    "data": {
        "root": Key("../shared/data/isic2017", str),   # any layout open_dataset() reads
        "split_file": Key(None, str, None),            # CSV image_id,split; made from `ratios` when absent
        "ratios": Key("80:20", str),                   # train:test (val is carved out of train) or train:val:test
        "val_fraction": Key(0.1, float, None, low=0.0, high=1.0),  # of the train part, when ratios has two parts
        "split_seed": Key(0, int),
        "extra_train": Key([], list, None),            # more roots used for training only (e.g. HAM10000)
        "extra_train_limit": Key(None, int, None, low=0),  # at most this many images from extra_train (seeded choice)
    },
    "model": {
        "arch": Key("unet", str),
        "encoder": Key("efficientnet-lite0", str),
        "encoder_weights": Key("imagenet", str, None),  # imagenet | null | path to a weights file
        "init_from": Key(None, str, None),            # start from: the same network's model file (all weights), else its encoder
        "dropout": Key(0.0, float, low=0.0, high=1.0),
        "decoder_channels": Key(None, list, None),     # smp decoders: e.g. [128, 64, 32, 16, 16]
    },
    "pipeline": Key({}, dict),                         # dermaseg.transforms.PipelineConfig fields
    "train": {
        "epochs": Key(30, int, low=1),
        "batch_size": Key(8, int, low=1),
        "loss": Key("bce+dice", str, choices=LOSSES + ("dice+bce",), fold=True),
        "pos_weight": Key(None, float, None),
        "optimizer": Key("adam", str, choices=OPTIMIZERS, fold=True),
        "lr": Key(1e-3, float, check=positive),
        "encoder_lr_factor": Key(0.1, float),          # encoder LR = lr * factor after unfreezing
        "weight_decay": Key(0.0, float),
        "adamw_weight_decay": Key(1e-4, float),        # AdamW's decay where weight_decay is 0
        "freeze_encoder_epochs": Key(0, int, None, low=0),
        "scheduler": Key("cosine", str, None, choices=SCHEDULERS, fold=True),
        "early_stopping_patience": Key(10, int, None, low=0),  # epochs without validation Dice gain; 0 = off
        "max_time_minutes": Key(None, float, None),    # wall-clock budget for fitting
        "num_workers": Key(2, int, low=0),
        "accelerator": Key("auto", str, choices=ACCELERATORS),
        "devices": Key(1, int, str, list),
        "num_nodes": Key(1, int, low=1),
        "strategy": Key("auto", str),
        # null: bf16-mixed where the GPU or CPU has bf16, else 16-mixed (GPU) / 32-true
        "precision": Key(None, str, None, choices=PRECISIONS),
        "channels_last": Key(True, bool),              # NHWC memory layout: faster convolutions under bf16
        "checkpoint_every_minutes": Key(2.0, float, low=0.0),  # last.ckpt refresh, so a kill loses little
        "threshold": Key(0.5, float, check=strictly_between_0_and_1),
        "limit_train_images": Key(None, int, None, low=0),  # for smoke tests
    },
}
DEFAULTS = defaults(SCHEMA)


def _check_model(config: dict) -> None:
    from dermaseg.models.registry import check_architecture

    try:
        check_architecture(config["model"]["arch"], config["model"]["encoder"])
    except ValueError as exc:
        raise ValueError(f"model: {exc}") from None


def _check_pipeline(config: dict) -> None:
    from dermaseg.transforms.pipeline import PipelineConfig

    try:
        PipelineConfig.from_dict(config["pipeline"])
    except ValueError as exc:
        raise ValueError(f"pipeline: {exc}") from None


def load_config(path: Path | str | None = None, overrides: list[str] | None = None) -> dict:
    return load(SCHEMA, path, overrides, hooks=(_check_pipeline, _check_model))

