"""Class-imbalance samplers: under- and oversampling, class weights, the weighted sampler."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
from sklearn.utils.class_weight import compute_class_weight

from dermaseg.classify import sampling

# --- samplers ------------------------------------------------------------------------------------

LABELS = np.array([0] * 50 + [1] * 20 + [2] * 5 + [3] * 0 + [4] * 9)


def test_undersample_keeps_rarest_count_without_repeats():
    idx = sampling.undersample(LABELS, 5, seed=1)
    counts = np.bincount(LABELS[idx], minlength=5)
    assert counts.tolist() == [5, 5, 5, 0, 5]
    assert len(set(idx.tolist())) == len(idx)               # no image twice
    assert set(idx[LABELS[idx] == 2].tolist()) == set(np.flatnonzero(LABELS == 2).tolist())


def test_oversample_raises_to_commonest_and_keeps_every_original():
    idx = sampling.oversample(LABELS, 5, seed=1)
    assert np.bincount(LABELS[idx], minlength=5).tolist() == [50, 50, 50, 0, 50]
    assert set(range(len(LABELS))) <= set(idx.tolist())      # all originals present
    assert Counter(idx[LABELS[idx] == 0].tolist()) == Counter(np.flatnonzero(LABELS == 0).tolist())


def test_class_weights_are_sklearn_balanced_and_sampler_balances_draws():
    present = np.unique(LABELS)
    plan = sampling.plan(LABELS, 5, "class_weight")
    assert np.allclose(plan.loss_weights[present], compute_class_weight("balanced", classes=present, y=LABELS))
    assert plan.loss_weights[3] == 0 and len(plan.indices) == len(LABELS)
    milder = sampling.plan(LABELS, 5, "class_weight", power=0.5)
    assert np.allclose(milder.loss_weights, np.sqrt(plan.loss_weights))

    plan = sampling.plan(LABELS, 5, "weighted_sampler", seed=0)
    expected = plan.epoch_counts(LABELS, 5)
    assert np.allclose(expected[present], len(LABELS) / len(present))
    draws = torch.utils.data.WeightedRandomSampler(torch.as_tensor(plan.draw_weights), 40000, replacement=True,
                                                   generator=torch.Generator().manual_seed(0))
    freq = np.bincount(LABELS[list(draws)], minlength=5) / 40000
    assert np.allclose(freq[present], 0.25, atol=0.015)


def test_none_and_unknown_method():
    assert sampling.plan(LABELS, 5, "none").epoch_counts(LABELS, 5).tolist() == [50, 20, 5, 0, 9]
    with pytest.raises(ValueError, match="unknown sampling"):
        sampling.plan(LABELS, 5, "smote")
