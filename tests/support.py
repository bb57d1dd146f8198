"""Helpers the tests share: where the repository and the real data are, and small generated
lesion images. Fixtures live in conftest.py."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
ISIC2017 = SHARED_DATA / "isic2017"
HAM10000 = SHARED_DATA / "ham10000"
ISIC_IMAGES = ISIC2017 / "ISIC-2017_Training_Data"
ISIC_MASKS = ISIC2017 / "ISIC-2017_Training_Part1_GroundTruth"
needs_isic2017 = pytest.mark.skipif(not ISIC_IMAGES.is_dir(), reason="../shared/data/isic2017 not available")


def require_shared_data():
    if not (ISIC2017.is_dir() and HAM10000.is_dir()):
        pytest.skip(f"real data not found at {SHARED_DATA}")


def lesion_image(h: int = 96, w: int = 128, seed: int = 0, radius: float | None = None):
    """A skin-coloured image with a dark elliptical lesion, and its {0,255} mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    r = radius or min(h, w) / 4
    inside = ((yy - h / 2) / r) ** 2 + ((xx - w / 2) / (r * 1.3)) ** 2 <= 1
    image = np.empty((h, w, 3), np.uint8)
    image[:] = (205, 160, 140)
    image[inside] = (110, 70, 50)
    image = np.clip(image.astype(int) + rng.integers(-12, 13, image.shape), 0, 255).astype(np.uint8)
    mask = np.where(inside, 255, 0).astype(np.uint8)
    return image, mask


def save_pair(image_path: Path, mask_path: Path | None, seed: int = 0, size=(96, 128)):
    image, mask = lesion_image(*size, seed=seed)
    image_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(image_path)
    if mask_path is not None:
        mask_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(mask_path)
    return image, mask


# --- a synthetic lesion whose shape is known analytically ------------------------------------------

SIZE = 256
CX, CY, AX, AY, TILT = 140.0, 112.0, 62.0, 34.0, math.radians(25)  # ellipse, off-centre, tilted
SKIN, LESION = (205, 165, 150), (80, 45, 35)


def inside_ellipse(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The analytic lesion: True where (x, y) (pixel centres, any float) lies in the ellipse."""
    dx, dy = x - CX, y - CY
    u = dx * math.cos(TILT) + dy * math.sin(TILT)
    v = -dx * math.sin(TILT) + dy * math.cos(TILT)
    return (u / AX) ** 2 + (v / AY) ** 2 <= 1.0


def grid(h=SIZE, w=SIZE):
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return xs, ys


def synthetic_pair():
    xs, ys = grid()
    mask = np.where(inside_ellipse(xs, ys), 255, 0).astype(np.uint8)
    image = np.empty((SIZE, SIZE, 3), np.uint8)
    image[:] = SKIN
    image[mask > 0] = LESION
    return image, mask


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return float((a & b).sum() / max((a | b).sum(), 1))


def dark(image: np.ndarray) -> np.ndarray:
    """The lesion as seen in the image: clearly darker than skin (geometric tests fill with skin)."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) < 128


# --- a tiny classification recipe (its data: the tiny_data fixture of tests/classify) -----------------

def tiny_overrides(root: Path, cache: Path, stages="1") -> list[str]:
    return [f"data.root={root}", f"data.cache_dir={cache}", "pipeline.size=32", f"train.trainable_stages={stages}",
            "train.views=2", "train.tta_views=2", "train.epochs=2", "train.batch_size=8", "train.progress=false",
            "data.val_fraction=0.25", "model.weights=null", "train.lr=0.003"]


# For a child Python that reports its own peak memory: VmHWM of its own address space. Not
# getrusage's ru_maxrss, which a child started from a large process (pytest) inherits at exec.
PEAK_KB = ("def peak_kb():\n"
           "    for line in open('/proc/self/status'):\n"
           "        if line.startswith('VmHWM'):\n"
           "            return int(line.split()[1])\n")
