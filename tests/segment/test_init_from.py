"""`model.init_from`: a model file of the same network starts every weight from it (fine-tuning);
one of another network lends only its encoder."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dermaseg.core.zoo import SHIPPED  # noqa: E402
from dermaseg.models.registry import build_model, encoder_of  # noqa: E402
from dermaseg.segment.modelfile import init_from, model_kwargs, read_model_file  # noqa: E402


def test_the_same_network_starts_from_every_weight_of_the_file():
    path = SHIPPED["isic-unet-lite0"].torch_path
    shipped = read_model_file(path)
    model = build_model(encoder_weights=None, **model_kwargs(shipped["model"]))
    assert init_from(model, path) == "whole network"
    for name, value in model.state_dict().items():
        assert torch.equal(value, shipped["state_dict"][name].to(value.dtype)), name


def test_another_decoder_takes_only_the_encoder():
    path = SHIPPED["isic-unet-lite0"].torch_path
    shipped = read_model_file(path)
    model = build_model(encoder_weights=None, **{**model_kwargs(shipped["model"]),
                                                 "decoder_channels": [64, 32, 16, 16, 8]})
    decoder_before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("encoder.")}
    assert init_from(model, path) == "encoder"
    encoder = encoder_of(model).state_dict()
    matched = [k for k in encoder if f"encoder.{k}" in shipped["state_dict"]]
    assert matched and all(torch.equal(encoder[k], shipped["state_dict"][f"encoder.{k}"].to(encoder[k].dtype))
                           for k in matched)
    assert all(torch.equal(v, decoder_before[k]) for k, v in model.state_dict().items() if k in decoder_before)
