"""The classifier network: frozen prefix + trainable tail compose to the network; a zero head."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
from torch import nn

# --- model split -----------------------------------------------------------------------------------

@pytest.mark.parametrize("backbone", ["efficientnet-lite0", "resnet18"])
def test_frozen_prefix_and_tail_compose_to_the_network(backbone):
    from dermaseg.models.classifier import build_classifier, split_model

    model = build_classifier(backbone, 5, weights=None, dropout=0.5).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        for n in (0, 2):
            prefix, tail = split_model(model, n)
            assert torch.allclose(tail.eval()(prefix(x)), ref, atol=1e-5)


def test_zero_head_starts_uniform_and_still_learns():
    """model.head_init=zero: on ImageNet features the new classifier starts at uniform
    probabilities (timm's init starts far from them), and its first step still moves it."""
    from dermaseg.models.classifier import build_classifier

    torch.manual_seed(0)
    x = torch.rand(4, 3, 96, 96) * 2 - 1
    y = torch.tensor([0, 1, 2, 3])
    timm_head = build_classifier("efficientnet-lite0", 7, "imagenet").eval()
    zero_head = build_classifier("efficientnet-lite0", 7, "imagenet", head_init="zero").eval()
    with torch.no_grad():
        assert timm_head(x).std() > 0.5
    loss = nn.functional.cross_entropy(zero_head(x), y)
    assert loss.item() == pytest.approx(math.log(7), abs=1e-5)
    loss.backward()
    assert zero_head.get_classifier().weight.grad.abs().sum() > 0
    # the backbone is the same ImageNet network either way
    assert torch.equal(timm_head.conv_stem.weight, zero_head.conv_stem.weight)
    with pytest.raises(ValueError, match="head_init"):
        build_classifier("efficientnet-lite0", 7, None, head_init="zeros")
