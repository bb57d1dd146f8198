"""Segmentation model files that carry everything needed to predict.

Two kinds load here:
- a Lightning checkpoint written by `dermaseg train` (`checkpoints/best.ckpt`, with optimiser state);
- the compact dermaseg model file (`model.pt`, dermaseg.core.torchfile, task "segmentation"):
  architecture, pipeline, threshold, provenance and fp16 weights — what ships inside the package.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dermaseg.core import torchfile

MODEL_KEYS = ("arch", "encoder", "dropout", "decoder_channels")


def model_kwargs(model_cfg: dict) -> dict:
    extra = {"decoder_channels": model_cfg["decoder_channels"]} if model_cfg.get("decoder_channels") else {}
    return dict(arch=model_cfg["arch"], encoder=model_cfg["encoder"], dropout=model_cfg.get("dropout", 0.0), **extra)


def save_model_file(path: Path | str, state_dict: dict, config: dict, *, threshold: float, info: dict | None = None,
                    fp16: bool = True) -> Path:
    header = {"model": {k: config["model"].get(k) for k in MODEL_KEYS}, "pipeline": config.get("pipeline", {}),
              "threshold": float(threshold), "info": info or {}}
    return torchfile.save(path, "segmentation", header, state_dict, fp16=fp16)


def read_model_file(path: Path | str) -> dict:
    """Load either kind into {'model', 'pipeline', 'threshold', 'info', 'state_dict'} (weights float32)."""
    raw = torchfile.load_raw(path)
    if torchfile.task_of(raw) is not None:
        return torchfile.normalise(raw, path, "segmentation")
    if isinstance(raw, dict) and "hyper_parameters" in raw and "config" in raw["hyper_parameters"]:
        config = raw["hyper_parameters"]["config"]
        return {
            "format": torchfile.FORMAT, "task": "segmentation",
            "model": {k: config["model"].get(k) for k in MODEL_KEYS},
            "pipeline": config.get("pipeline", {}),
            "threshold": float(config["train"].get("threshold", 0.5)),
            "info": {"epoch": raw.get("epoch"), "source": str(path)},
            "state_dict": {k[len("model."):]: v.float() if v.is_floating_point() else v
                           for k, v in raw["state_dict"].items() if k.startswith("model.")},
        }
    raise ValueError(f"{path}: not a dermaseg model file (no '{torchfile.FORMAT}' format tag or Lightning "
                     "hyper-parameters)")


def build_from_file(path: Path | str) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode with weights loaded, the file's metadata)."""
    from dermaseg.models.registry import build_model

    data = read_model_file(path)
    model = build_model(encoder_weights=None, **model_kwargs(data["model"]))
    model.load_state_dict(data["state_dict"])
    model.eval()
    return model, data


def init_from(model: torch.nn.Module, path: Path | str) -> str:
    """Start a network to train from `path`; returns what was loaded.

    A segmentation model file or checkpoint of the same network (every weight name and shape
    matching): the whole network, i.e. fine-tuning. Anything else (a classifier, another
    architecture, an encoder's weights): its encoder part (load_encoder_weights_from).
    """
    from dermaseg.models.registry import load_encoder_weights_from

    try:
        weights = read_model_file(path)["state_dict"]
    except (ValueError, KeyError, TypeError):
        weights = None
    own = model.state_dict()
    if weights is not None and weights.keys() == own.keys() and all(w.shape == own[k].shape for k, w in weights.items()):
        model.load_state_dict(weights)
        return "whole network"
    load_encoder_weights_from(model, path)
    return "encoder"
