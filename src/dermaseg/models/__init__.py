"""Segmentation models: the registry (architectures x encoders) and encoder weights.

Imported lazily so that ``dermaseg --help`` does not pay for torch.
"""

from __future__ import annotations

_EXPORTS = {
    "ARCHITECTURES": "registry", "ENCODERS": "registry", "build_model": "registry",
    "encoder_of": "registry", "describe_models": "registry", "describe_encoders": "registry",
    "input_normalisation": "registry", "load_encoder_weights_from": "registry",
    "efficientnet_lite_checkpoint": "pretrained", "load_efficientnet_lite_imagenet": "pretrained",
    "map_efficientnet_pytorch_keys": "pretrained",
    "load_encoder_weights": "weights", "WeightsWarning": "weights",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        module = importlib.import_module(f"dermaseg.models.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'dermaseg.models' has no attribute {name!r}")
