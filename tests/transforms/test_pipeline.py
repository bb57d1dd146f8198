"""The one pipeline: preprocess, resize, normalise, and back to the image's own size."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
import yaml
from support import ISIC_IMAGES, iou

from dermaseg.data.io import read_image
from dermaseg.transforms.pipeline import (
    DEFAULT_AUGMENT,
    PipelineConfig,
    normalise_image,
    prepare,
    preprocess,
    restore_size,
    to_model_input,
)
from dermaseg.transforms.preprocess import shades_of_gray


def test_preprocess_keeps_size_and_applies_only_enabled_steps():
    image = read_image(ISIC_IMAGES / "ISIC_0000002.jpg")
    image = cv2.resize(image, (451, 300))
    off = PipelineConfig()
    assert preprocess(image, off) is image
    every = PipelineConfig(hair_removal=True, clahe=True, sigmoid_contrast=True, colour_constancy=True)
    out = preprocess(image, every)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image)
    only_cc = preprocess(image, PipelineConfig(colour_constancy=True))
    assert np.array_equal(only_cc, shades_of_gray(image, p=6))


# --- resizing and undoing it -------------------------------------------------------------


@pytest.mark.parametrize("keep_aspect", [False, True])
def test_to_model_input_and_restore_size_round_trip(keep_aspect):
    h, w = 300, 451
    ys, xs = np.mgrid[0:h, 0:w]
    mask = np.where(((xs - 260) / 120.0) ** 2 + ((ys - 140) / 80.0) ** 2 <= 1, 255, 0).astype(np.uint8)
    image = np.dstack([255 - mask // 2] * 3).astype(np.uint8)
    config = PipelineConfig(size=128, keep_aspect=keep_aspect)
    x, meta = to_model_input(image, config)
    assert x.shape == (3, 128, 128) and x.dtype == np.float32
    assert meta.original_shape == (h, w)
    _, small_mask, _ = prepare(image, config, mask)
    assert set(np.unique(small_mask)) <= {0, 255}
    if keep_aspect:
        top, bottom, left, right = meta.pad
        assert top + bottom == 128 - meta.resized_shape[0] and left == right == 0
        assert np.allclose(x[:, :top], x[:, :1, :1])  # letterbox rows hold one padding value
    back = restore_size(small_mask.astype(np.float32) / 255.0, meta)
    assert back.shape == (h, w) and back.dtype == np.float32
    assert iou(back >= 0.5, mask) > 0.97


def test_normalisation_modes():
    image = np.full((8, 8, 3), 255, np.uint8)
    assert np.allclose(normalise_image(image, "unit"), 1.0)
    imagenet = normalise_image(image, "imagenet")
    assert np.allclose(imagenet[:, 0, 0], (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]))
    assert np.allclose(normalise_image(np.zeros((2, 2, 3), np.uint8), "symmetric"), -1.0)
    assert np.allclose(normalise_image(image, "symmetric"), 1.0)
    with pytest.raises(ValueError, match="normalise"):
        normalise_image(image, "zscore")


# --- config --------------------------------------------------------------------------------


def test_config_round_trips_and_rejects_unknown_keys():
    config = PipelineConfig(size=320, keep_aspect=True, hair_removal=True, augment=DEFAULT_AUGMENT)
    d = config.to_dict()
    assert PipelineConfig.from_dict(json.loads(json.dumps(d))) == config
    assert PipelineConfig.from_dict(yaml.safe_load(yaml.safe_dump(d))) == config
    with pytest.raises(ValueError, match="hair_remove.*sizee|sizee.*hair_remove"):
        PipelineConfig.from_dict({"sizee": 256, "hair_remove": True})
    with pytest.raises(ValueError, match="normalise"):
        PipelineConfig(normalise="zscore")
    config.augment["hflip"]["p"] = 0.0  # the config holds a copy; the default is untouched
    assert DEFAULT_AUGMENT["hflip"]["p"] == 0.5
