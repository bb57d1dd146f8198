"""Augmentation moves the mask with the image (checked against analytic shapes) and is seeded per sample."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install

from support import SIZE, SKIN, dark, grid, inside_ellipse, iou, synthetic_pair

from dermaseg.transforms.augment import apply, build_augment, reseed
from dermaseg.transforms.pipeline import (
    DEFAULT_AUGMENT,
)


def augment_once(spec: dict, image, mask, index=0):
    compose = build_augment(spec, seed=0)
    reseed(compose, 0, 0, index)
    return apply(compose, image, mask)


# --- augmentation keeps image and mask aligned -------------------------------------------

C = (SIZE - 1) / 2.0  # albumentations rotates/shears about the pixel-centre of the image


def test_rotation_moves_mask_onto_the_analytically_rotated_shape():
    image, mask = synthetic_pair()
    theta = math.radians(37)
    out_image, out_mask = augment_once({"rotate": {"p": 1.0, "limit": [37, 37], "fill": SKIN}}, image, mask)
    # Counter-clockwise on screen (y down): source point = inverse rotation of the output pixel.
    xs, ys = grid()
    sx = C + (xs - C) * math.cos(theta) - (ys - C) * math.sin(theta)
    sy = C + (xs - C) * math.sin(theta) + (ys - C) * math.cos(theta)
    expected = inside_ellipse(sx, sy)
    assert iou(out_mask, expected) > 0.95
    assert iou(out_mask, dark(out_image)) > 0.95
    assert iou(out_mask, mask) < 0.6  # it really moved: the check above could fail


def test_shear_moves_mask_onto_the_analytically_sheared_shape():
    image, mask = synthetic_pair()
    spec = {"shear": {"p": 1.0, "shear": {"x": [18, 18], "y": [0, 0]}, "fill": SKIN}}
    out_image, out_mask = augment_once(spec, image, mask)
    xs, ys = grid()
    sx = xs + math.tan(math.radians(18)) * (ys - C)  # x' = x - tan(a) (y - c), inverted
    expected = inside_ellipse(sx, ys)
    assert iou(out_mask, expected) > 0.95
    assert iou(out_mask, dark(out_image)) > 0.95
    assert iou(out_mask, mask) < 0.85


def test_elastic_moves_mask_with_the_displacement_field():
    image, mask = synthetic_pair()
    xs, ys = grid()
    # Each pixel carries its own coordinates; after warping they tell where it came from.
    coords = np.dstack([xs, ys, np.zeros_like(xs)]).astype(np.float32)
    spec = {"elastic": {"p": 1.0, "alpha": 300.0, "sigma": 10.0, "fill": SKIN}}
    compose = build_augment(spec, seed=0)
    reseed(compose, 0, 0, 0)
    out = compose(image=coords, mask=mask)
    source, out_mask = out["image"], out["mask"]
    displacement = np.hypot(source[..., 0] - xs, source[..., 1] - ys)
    assert np.median(displacement) > 2.0  # a real warp, not a no-op
    expected = inside_ellipse(source[..., 0].astype(np.float64), source[..., 1].astype(np.float64))
    assert iou(out_mask, expected) > 0.95
    # The uint8 image takes the same draw as its mask (same seed, same index).
    out_image, out_mask2 = augment_once(spec, image, mask)
    assert np.array_equal(out_mask, out_mask2)
    assert iou(out_mask2, dark(out_image)) > 0.95


def test_default_augmentation_keeps_masks_binary_and_aligned():
    image, mask = synthetic_pair()
    spec = {name: dict(options) for name, options in DEFAULT_AUGMENT.items()}
    for name in ("rotate", "affine", "elastic"):
        spec[name]["fill"] = SKIN  # skin-coloured corners, so "dark" means lesion only
    compose = build_augment(spec, seed=0)
    changed = 0
    for index in range(24):
        reseed(compose, 7, 0, index)
        out_image, out_mask = apply(compose, image, mask)
        assert out_image.shape == image.shape and out_image.dtype == np.uint8
        assert set(np.unique(out_mask)) <= {0, 255}
        assert iou(out_mask, dark(out_image)) > 0.9
        changed += not np.array_equal(out_mask, mask)
    assert changed >= 20


def test_augment_spec_errors_name_the_entry():
    with pytest.raises(ValueError, match="unknown augmentation 'rotato'"):
        build_augment({"rotato": {"p": 1.0}}, seed=0)
    with pytest.raises(ValueError, match="'hflip': p must be"):
        build_augment({"hflip": {"p": 2}}, seed=0)
    # Any albumentations class name works, its params passed straight through.
    compose = build_augment({"CoarseDropout": {"p": 1.0}}, seed=0)
    assert type(compose.transforms[0]).__name__ == "CoarseDropout"


def test_same_seed_epoch_index_gives_same_augmentation_and_different_epochs_differ():
    image, mask = synthetic_pair()
    compose = build_augment(DEFAULT_AUGMENT, seed=0)
    reseed(compose, 3, 1, 5)
    a = apply(compose, image, mask)
    for _ in range(3):  # calls in between must not matter
        apply(compose, image, mask)
    reseed(compose, 3, 1, 5)
    b = apply(compose, image, mask)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    outs = set()
    for epoch in range(6):
        reseed(compose, 3, epoch, 5)
        outs.add(apply(compose, image, mask)[0].tobytes())
    assert len(outs) >= 5
