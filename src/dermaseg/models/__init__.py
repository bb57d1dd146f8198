"""The networks of both tasks: one backbone table (`backbones`), the segmentation registry
(architectures x encoders, with FCN, SegNet and Mask R-CNN of our own), the classifier
(`classifier`: timm backbones, frozen prefix / trainable tail), ImageNet and file weights, and the
thresholding baselines that need no network (`thresholding`: Otsu, k-means).

Imported lazily so that ``dermaseg --help`` does not pay for torch.
"""

from __future__ import annotations

_EXPORTS = {
    "BACKBONES": "backbones", "backbone_spec": "backbones",
    "build_classifier": "classifier",
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
