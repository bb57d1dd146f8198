"""Model files that carry everything needed to predict.

Two formats load here:
- a Lightning checkpoint written by `dermaseg train` (`checkpoints/best.ckpt`, with optimiser state);
- a compact dermaseg model file (`model.pt`): architecture, pipeline, threshold, provenance
  and (optionally fp16) weights — what ships inside the package.
"""

from __future__ import annotations

from pathlib import Path

import torch

FORMAT = "dermaseg-segmentation-v1"


def model_kwargs(model_cfg: dict) -> dict:
    extra = {"decoder_channels": model_cfg["decoder_channels"]} if model_cfg.get("decoder_channels") else {}
    return dict(arch=model_cfg["arch"], encoder=model_cfg["encoder"], dropout=model_cfg.get("dropout", 0.0), **extra)


def save_model_file(path: Path | str, state_dict: dict, config: dict, *, threshold: float, info: dict | None = None,
                    fp16: bool = True) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = {k: (v.half() if fp16 and v.is_floating_point() else v).contiguous() for k, v in state_dict.items()}
    torch.save({
        "format": FORMAT,
        "model": {k: config["model"][k] for k in ("arch", "encoder", "dropout", "decoder_channels")},
        "pipeline": config.get("pipeline", {}),
        "threshold": float(threshold),
        "info": info or {},
        "state_dict": weights,
    }, path)
    return path


def read_model_file(path: Path | str) -> dict:
    """Load either format into {'model', 'pipeline', 'threshold', 'info', 'state_dict'} (weights float32)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a model file"
        raise ValueError(f"{path}: not a dermaseg model or checkpoint ({type(exc).__name__}: {exc})") from None
    if isinstance(raw, dict) and raw.get("format") == FORMAT:
        out = dict(raw)
    elif isinstance(raw, dict) and "hyper_parameters" in raw and "config" in raw["hyper_parameters"]:
        config = raw["hyper_parameters"]["config"]
        out = {
            "model": {k: config["model"].get(k) for k in ("arch", "encoder", "dropout", "decoder_channels")},
            "pipeline": config.get("pipeline", {}),
            "threshold": float(config["train"].get("threshold", 0.5)),
            "info": {"epoch": raw.get("epoch"), "source": str(path)},
            "state_dict": {k[len("model."):]: v for k, v in raw["state_dict"].items() if k.startswith("model.")},
        }
    else:
        raise ValueError(f"{path}: not a dermaseg model file (no '{FORMAT}' format tag or Lightning hyper-parameters)")
    out["state_dict"] = {k: (v.float() if v.is_floating_point() else v) for k, v in out["state_dict"].items()}
    return out


def build_from_file(path: Path | str) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode with weights loaded, the file's metadata)."""
    from dermaseg.models.registry import build_model

    data = read_model_file(path)
    model = build_model(encoder_weights=None, **model_kwargs(data["model"]))
    model.load_state_dict(data["state_dict"])
    model.eval()
    return model, data
