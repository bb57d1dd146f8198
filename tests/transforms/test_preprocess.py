"""Preprocessing steps: hair removal, colour constancy, contrast."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install

from support import ISIC_IMAGES, ISIC_MASKS, needs_isic2017

from dermaseg.data.io import read_image, read_mask
from dermaseg.transforms.preprocess import (
    clahe_lab,
    remove_hair,
    shades_of_gray,
    sigmoid_contrast,
)

# --- preprocessing steps -----------------------------------------------------------------


def draw_hairs(image: np.ndarray, seed: int, count: int = 14):
    """Thin dark curved lines across the image, like hairs; returns (hairy image, hair mask)."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    hair = np.zeros((h, w), np.uint8)
    for _ in range(count):
        x, y, angle, bend = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, np.pi), rng.uniform(-0.04, 0.04)
        points = []
        for _ in range(70):
            points.append((x, y))
            x, y, angle = x + 4 * math.cos(angle), y + 4 * math.sin(angle), angle + bend
        cv2.polylines(hair, [np.round(points).astype(np.int32)], False, 255, 2)
    hairy = image.copy()
    hairy[hair > 0] = (40, 28, 22)
    return hairy, hair


@needs_isic2017
@pytest.mark.parametrize("seed", [0, 1])
def test_hair_removal_restores_synthetic_hairs_to_the_background(seed):
    original = read_image(ISIC_IMAGES / "ISIC_0000000.jpg")  # a hairless lesion
    hairy, hair = draw_hairs(original, seed)
    clean, found = remove_hair(hairy)
    on_hair = hair > 0
    assert found.shape == hair.shape and set(np.unique(found)) <= {0, 255}
    assert (found[on_hair] > 0).mean() > 0.85  # the hairs are found
    before = np.abs(hairy.astype(int) - original).max(axis=2)[on_hair]
    after = np.abs(clean.astype(int) - original).max(axis=2)[on_hair]
    assert before.mean() > 100
    assert (after <= 25).mean() > 0.85  # most hair pixels back near what lay beneath
    assert after.mean() < 15


@needs_isic2017
@pytest.mark.parametrize("image_id", ["ISIC_0000000", "ISIC_0000461"])
def test_hair_removal_leaves_a_hairless_image_nearly_unchanged(image_id):
    # ISIC_0000461 has a dense pigment network: the dark thin lines hair removal must spare.
    original = read_image(ISIC_IMAGES / f"{image_id}.jpg")
    clean, found = remove_hair(original)
    diff = np.abs(clean.astype(int) - original)
    assert (found > 0).mean() < 0.02
    assert diff.mean() < 1.0
    assert (diff.max(axis=2) > 10).mean() < 0.02


@needs_isic2017
def test_hair_removal_on_a_large_image_repairs_at_full_size():
    original = cv2.resize(read_image(ISIC_IMAGES / "ISIC_0000000.jpg"), (2400, 1800), interpolation=cv2.INTER_CUBIC)
    hairy, hair = draw_hairs(original, 3, count=10)
    hair = cv2.dilate(hair, np.ones((9, 9), np.uint8))  # hairs at 2400 px are thicker
    hairy[hair > 0] = (40, 28, 22)
    clean, found = remove_hair(hairy)
    assert clean.shape == hairy.shape and found.shape == hair.shape
    assert (found[hair > 0] > 0).mean() > 0.8
    after = np.abs(clean.astype(int) - original).max(axis=2)
    assert (after[hair > 0] <= 30).mean() > 0.8
    far = cv2.dilate(found, np.ones((3, 3), np.uint8)) == 0
    assert np.array_equal(clean[far], hairy[far])  # pixels away from hairs keep full detail


@needs_isic2017
def test_shades_of_gray_equalises_a_colour_cast():
    original = read_image(ISIC_IMAGES / "ISIC_0000001.jpg")
    cast = np.round(original * np.array([1.0, 0.8, 0.55])).astype(np.uint8)
    means = cast.reshape(-1, 3).mean(axis=0)
    assert means.max() / means.min() > 1.5
    corrected = shades_of_gray(cast, p=6)
    means = corrected.reshape(-1, 3).mean(axis=0)
    assert means.max() / means.min() < 1.1
    # p=1 (Gray World) makes channel means equal.
    gray_world = shades_of_gray(cast, p=1).reshape(-1, 3).mean(axis=0)
    assert np.ptp(gray_world) < 1.5
    # The estimate undoes the cast: the cast and the original image end up with the same
    # colours (chromaticity), the cast one only darker overall.
    def chroma(img):
        rgb = img.reshape(-1, 3).astype(float) + 1.0
        return rgb / rgb.sum(axis=1, keepdims=True)

    assert np.abs(chroma(corrected) - chroma(shades_of_gray(original, p=6))).mean() < 0.01
    assert np.abs(chroma(cast) - chroma(shades_of_gray(original, p=6))).mean() > 0.05


@needs_isic2017
@pytest.mark.parametrize("image_id", ["ISIC_0000001", "ISIC_0000002"])  # high and low contrast
def test_contrast_steps_widen_lesion_skin_contrast(image_id):
    image = read_image(ISIC_IMAGES / f"{image_id}.jpg")
    lesion = read_mask(ISIC_MASKS / f"{image_id}_segmentation.png") > 0

    def gap(img):
        lum = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)[..., 0].astype(float)
        return lum[~lesion].mean() - lum[lesion].mean()

    assert gap(sigmoid_contrast(image)) > 1.3 * gap(image)
    out = clahe_lab(image)
    assert out.shape == image.shape and out.dtype == np.uint8

    def local_contrast(img):  # mean standard deviation of L in 15x15 windows
        lum = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
        mean, mean_sq = cv2.blur(lum, (15, 15)), cv2.blur(lum * lum, (15, 15))
        return float(np.sqrt(np.maximum(mean_sq - mean * mean, 0)).mean())

    assert local_contrast(out) > 1.4 * local_contrast(image)
    # CLAHE works on lightness only: hue stays (a, b of Lab barely move).
    ab = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2LAB)[..., 1:].astype(int)  # noqa: E731
    assert np.abs(ab(out) - ab(image)).mean() < 3
