"""Segmentation losses (binary, on logits), built from segmentation_models_pytorch."""

from __future__ import annotations

import torch
from segmentation_models_pytorch import losses as smp_losses

from dermaseg.segment.config import LOSSES


class Combined(torch.nn.Module):
    def __init__(self, parts: list[tuple[float, torch.nn.Module]]):
        super().__init__()
        self.weights = [w for w, _ in parts]
        self.parts = torch.nn.ModuleList(m for _, m in parts)

    def forward(self, logits, target):
        return sum(w * m(logits, target) for w, m in zip(self.weights, self.parts))


class BCE(torch.nn.Module):
    """BCE with logits; pos_weight > 1 up-weights lesion pixels (small lesions)."""

    def __init__(self, pos_weight: float | None = None):
        super().__init__()
        self.register_buffer("pos_weight", torch.tensor([pos_weight]) if pos_weight else None)

    def forward(self, logits, target):
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=self.pos_weight)


def build_loss(name: str = "bce+dice", pos_weight: float | None = None, tversky_alpha: float = 0.3,
               tversky_beta: float = 0.7, focal_gamma: float = 2.0) -> torch.nn.Module:
    name = name.lower().replace(" ", "")
    if name == "bce":
        return BCE(pos_weight)
    if name == "dice":
        return smp_losses.DiceLoss("binary", from_logits=True)
    if name in ("bce+dice", "dice+bce"):
        return Combined([(1.0, BCE(pos_weight)), (1.0, smp_losses.DiceLoss("binary", from_logits=True))])
    if name in ("lovasz", "bce+lovasz"):
        # Lovasz hinge (Berman et al., CVPR 2018): a convex surrogate of each image's Jaccard index,
        # the quantity the ISIC challenge scores; per image so a small lesion counts as much as a large one.
        lovasz = smp_losses.LovaszLoss("binary", per_image=True, from_logits=True)
        return lovasz if name == "lovasz" else Combined([(1.0, BCE(pos_weight)), (1.0, lovasz)])
    if name == "focal":
        return smp_losses.FocalLoss("binary", gamma=focal_gamma)
    if name == "tversky":
        # alpha weighs false positives, beta false negatives: beta > alpha favours recall on small lesions.
        return smp_losses.TverskyLoss("binary", alpha=tversky_alpha, beta=tversky_beta)
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
