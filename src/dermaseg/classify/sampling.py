"""Class-imbalance strategies, applied to the training split only (one flag, `sampling`).

- ``none``: every training image once per epoch.
- ``undersample``: random undersampling; each class keeps as many images as the rarest one
  (drawn without replacement, once per run).
- ``oversample``: random oversampling; every image of a class kept, rarer classes topped up
  with random repeats (with replacement) to the size of the commonest class.
- ``class_weight``: all images once; the loss weighs class c by n / (k * n_c), scikit-learn's
  "balanced" weights.
- ``weighted_sampler``: each epoch draws len(train) images with replacement, image i with
  probability proportional to 1 / n_{class(i)}, so every class is drawn equally often on average.

``power`` (train.class_weight_power) tempers the last two: weights become (n / (k n_c)) ** power
and draw weights (1 / n_c) ** power; 1 is full balancing, 0.5 a common compromise between
accuracy (the real class mix) and balanced accuracy, 0 is no balancing.

Validation and test images are never resampled: their figures describe the real class mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("none", "undersample", "oversample", "class_weight", "weighted_sampler")


def check_method(method: str) -> str:
    method = str(method).lower().replace("-", "_")
    aliases = {"under": "undersample", "undersampling": "undersample", "over": "oversample",
               "oversampling": "oversample", "weighted_loss": "class_weight", "class_weighted": "class_weight",
               "sampler": "weighted_sampler"}
    method = aliases.get(method, method)
    if method not in METHODS:
        raise ValueError(f"unknown sampling {method!r}; choose one of {', '.join(METHODS)}")
    return method


def class_counts(labels, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got range [{labels.min()}, {labels.max()}]")
    return np.bincount(labels, minlength=num_classes)


def balanced_class_weights(labels, num_classes: int) -> np.ndarray:
    """n / (k * n_c) for each class present (scikit-learn's 'balanced'); absent classes get 0."""
    counts = class_counts(labels, num_classes)
    present = counts > 0
    weights = np.zeros(num_classes, dtype=np.float64)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def undersample(labels, num_classes: int, seed: int = 0) -> np.ndarray:
    """Indices with every present class cut to the rarest class's count (no repeats)."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = class_counts(labels, num_classes)
    target = counts[counts > 0].min()
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), size=target, replace=False)
              for c in range(num_classes) if counts[c]]
    return np.sort(np.concatenate(picked))


def oversample(labels, num_classes: int, seed: int = 0) -> np.ndarray:
    """Indices with every present class raised to the commonest class's count (originals + random repeats)."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = class_counts(labels, num_classes)
    target = counts.max()
    rng = np.random.default_rng(seed)
    picked = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        if members.size:
            extra = rng.choice(members, size=target - members.size, replace=True)
            picked.append(np.concatenate([members, extra]))
    return np.sort(np.concatenate(picked))


def sample_weights(labels, num_classes: int, power: float = 1.0) -> np.ndarray:
    """Per-image draw weights (1 / n_class) ** power: with power 1 each class has the same total weight."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = class_counts(labels, num_classes)
    return (1.0 / counts[labels]) ** float(power)


@dataclass
class SamplingPlan:
    """What the training loop does for one sampling method."""

    method: str
    indices: np.ndarray                 # training images of one epoch (before shuffling)
    loss_weights: np.ndarray | None     # per-class loss weights, or None
    draw_weights: np.ndarray | None     # per-image weights for a WeightedRandomSampler, or None

    def epoch_counts(self, labels, num_classes: int) -> np.ndarray:
        """Class counts of one epoch (expected counts for the weighted sampler)."""
        labels = np.asarray(labels, dtype=np.int64)
        if self.draw_weights is not None:
            p = self.draw_weights / self.draw_weights.sum()
            return np.bincount(labels, weights=p * len(self.indices), minlength=num_classes)
        return class_counts(labels[self.indices], num_classes)


def plan(labels, num_classes: int, method: str = "none", seed: int = 0, power: float = 1.0) -> SamplingPlan:
    method = check_method(method)
    labels = np.asarray(labels, dtype=np.int64)
    everything = np.arange(len(labels))
    if method == "undersample":
        return SamplingPlan(method, undersample(labels, num_classes, seed), None, None)
    if method == "oversample":
        return SamplingPlan(method, oversample(labels, num_classes, seed), None, None)
    if method == "class_weight":
        return SamplingPlan(method, everything, balanced_class_weights(labels, num_classes) ** float(power), None)
    if method == "weighted_sampler":
        return SamplingPlan(method, everything, None, sample_weights(labels, num_classes, power))
    return SamplingPlan(method, everything, None, None)
