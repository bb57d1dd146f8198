"""Load encoder weights from a file: a state dict, a dermaseg/Lightning checkpoint, or an
EfficientNet-PyTorch ``.pth``.

Files come with all kinds of key prefixes (``encoder.``, ``model.encoder.``, timm's ``model.``
inside smp's universal encoder ...). Rather than guessing one layout, we try every pair
(prefix in the file, prefix in the encoder) and keep the pair under which the most tensors
match by name *and* shape. What could not be matched is reported, and a file where nothing
matches is an error: a "pretrained" model that is silently random is the worst outcome.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dermaseg.models.pretrained import (
    is_efficientnet_pytorch_state_dict,
    load_state_dict_file,
    map_efficientnet_pytorch_keys,
)


class WeightsWarning(UserWarning):
    """Encoder weights loaded only partly (some tensors missing or mismatched)."""


@dataclass
class LoadReport:
    source: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)      # encoder tensors the file did not provide
    mismatched: list[str] = field(default_factory=list)   # same name, different shape
    ignored: int = 0                                      # file tensors outside the encoder (decoder, head...)

    def summary(self) -> str:
        parts = [f"{len(self.loaded)} encoder tensors loaded"]
        if self.missing:
            parts.append(f"{len(self.missing)} missing (kept at initial values: {_preview(self.missing)})")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} with other shapes (skipped: {_preview(self.mismatched)})")
        if self.ignored:
            parts.append(f"{self.ignored} tensors of the file are not part of the encoder (ignored)")
        return f"{self.source}: " + "; ".join(parts)


def _preview(names: list[str], n: int = 4) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def _tensor_dict(obj) -> dict[str, torch.Tensor] | None:
    if isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj):
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors:
            return tensors
    return None


def extract_state_dict(obj, source: str = "weights") -> dict[str, torch.Tensor]:
    """The tensor dict inside a loaded file: a bare state dict or a checkpoint wrapping one."""
    if isinstance(obj, dict):
        for key in ("encoder_state_dict", "state_dict", "model_state_dict", "model", "encoder"):
            inner = _tensor_dict(obj.get(key))
            if inner:
                return inner
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    tensors = _tensor_dict(obj)
    if tensors:
        return tensors
    raise ValueError(f"{source}: holds no tensors (expected a state dict or a checkpoint with 'state_dict')")


def _prefixes(keys, max_depth: int) -> set[str]:
    found = {""}
    for key in keys:
        parts = key.split(".")
        for depth in range(1, min(max_depth, len(parts) - 1) + 1):
            found.add(".".join(parts[:depth]) + ".")
    return found


def match_state_dict(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]):
    """Best renaming of ``source`` onto ``target``: returns (matched dict, mismatched target keys, n_used)."""
    best = ({}, [], 0)
    for src_prefix in _prefixes(source, 4):
        for dst_prefix in _prefixes(target, 1):
            matched, mismatched = {}, []
            for key, tensor in source.items():
                if not key.startswith(src_prefix):
                    continue
                name = dst_prefix + key[len(src_prefix):]
                if name in target:
                    if target[name].shape == tensor.shape:
                        matched[name] = tensor
                    else:
                        mismatched.append(name)
            score = len(matched)
            if score > len(best[0]):
                best = (matched, mismatched, score)
    return best


def load_encoder_weights(encoder: torch.nn.Module, path: str | Path, timm_arch: str | None = None) -> LoadReport:
    """Load the weights in ``path`` into ``encoder``; return what was loaded and what was not.

    ``timm_arch`` names the timm classifier the encoder is built from (e.g. ``tf_efficientnet_lite0``):
    with it, EfficientNet-PyTorch-keyed files are renamed to timm keys first.
    Raises ValueError when no tensor of the file fits the encoder.
    """
    source = str(path)
    state = extract_state_dict(load_state_dict_file(path), source)
    if is_efficientnet_pytorch_state_dict(state) and timm_arch is not None:
        import timm

        state = map_efficientnet_pytorch_keys(state, timm.create_model(timm_arch, pretrained=False))
    target = encoder.state_dict()
    matched, mismatched, _ = match_state_dict(state, target)
    if not matched:
        raise ValueError(
            f"{source}: no tensor matches the encoder (file keys look like {_preview(sorted(state))}; "
            f"encoder keys look like {_preview(sorted(target))})"
        )
    encoder.load_state_dict(matched, strict=False)
    report = LoadReport(
        source=source,
        loaded=sorted(matched),
        missing=[k for k in target if k not in matched and k not in mismatched],
        mismatched=mismatched,
        ignored=len(state) - len(matched) - len(mismatched),
    )
    # BatchNorm's num_batches_tracked counters carry no learned information.
    if any(not k.endswith("num_batches_tracked") for k in report.missing) or report.mismatched:
        warnings.warn(report.summary(), WeightsWarning, stacklevel=2)
    return report
