"""Training recipes: YAML files merged over defaults, with `key.sub=value` overrides.

Unknown keys are errors (a typo must not silently train the default).
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

DEFAULTS: dict = {
    "seed": 0,
    "data": {
        "root": "../shared/data/isic2017",   # any layout open_dataset() reads
        "split_file": None,                   # CSV image_id,split; made from `ratios` when absent
        "ratios": "80:20",                    # train:test (val is carved out of train) or train:val:test
        "val_fraction": 0.1,                  # of the train part, when ratios has two parts
        "split_seed": 0,
        "extra_train": [],                    # more roots used for training only (e.g. HAM10000)
        "extra_train_limit": None,            # at most this many images from extra_train (seeded choice)
    },
    "model": {
        "arch": "unet",
        "encoder": "efficientnet-lite0",
        "encoder_weights": "imagenet",        # imagenet | null | path to a weights file
        "init_from": None,                    # a dermaseg checkpoint (segmentation or classifier) to start from
        "dropout": 0.0,
        "decoder_channels": None,             # smp decoders: e.g. [128, 64, 32, 16, 16]
    },
    "pipeline": {},                           # dermaseg.transforms.PipelineConfig fields
    "train": {
        "epochs": 30,
        "batch_size": 8,
        "loss": "bce+dice",
        "pos_weight": None,
        "optimizer": "adam",                  # adam | adamw | sgd
        "lr": 1e-3,
        "encoder_lr_factor": 0.1,             # encoder LR = lr * factor after unfreezing
        "weight_decay": 0.0,
        "freeze_encoder_epochs": 0,
        "scheduler": "cosine",                # cosine | onecycle | plateau | none
        "early_stopping_patience": 10,        # epochs without validation Dice gain; 0 = off
        "max_time_minutes": None,             # wall-clock budget for fitting
        "num_workers": 2,
        "accelerator": "auto",
        "devices": 1,
        "num_nodes": 1,
        "strategy": "auto",
        "precision": None,                    # default: bf16-mixed where the GPU or CPU has bf16, else 16-mixed (GPU) / 32-true
        "channels_last": True,                # NHWC memory layout: faster convolutions under bf16 on CPU and GPU
        "checkpoint_every_minutes": 2.0,      # last.ckpt refresh, so a kill loses little
        "threshold": 0.5,
        "limit_train_images": None,           # for smoke tests
    },
}


def _merge(base: dict, update: dict, schema: dict, path: str = "") -> dict:
    """Deep-merge `update` into `base`; keys must exist in `schema` unless the schema section is free-form ({})."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        where = f"{path}{key}"
        if schema and key not in schema:
            raise ValueError(f"unknown config key {where!r}; known: {', '.join(sorted(schema))}")
        sub_schema = schema.get(key, {}) if schema else {}
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value, sub_schema if isinstance(sub_schema, dict) else {}, f"{where}.")
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict:
    if "=" not in text:
        raise ValueError(f"override {text!r}: expected key.sub=value")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw)
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def read_recipe(path: Path | str) -> dict:
    """A YAML recipe file as a mapping of sections, without its descriptive name/description keys."""
    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: a config must be a mapping of sections")
    loaded.pop("name", None)
    loaded.pop("description", None)
    return loaded


def load_config(path: Path | str | None = None, overrides: list[str] | None = None) -> dict:
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        loaded = read_recipe(path)
        config = _merge(config, loaded, DEFAULTS)
    for text in overrides or []:
        config = _merge(config, parse_override(text), DEFAULTS)
    # Validate the pipeline section early, with the transforms' own parser.
    from dermaseg.transforms.pipeline import PipelineConfig

    PipelineConfig.from_dict(config["pipeline"])
    return config
