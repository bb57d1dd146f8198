"""Shared fixtures: the real data in ../shared/data and small generated trees."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

# Test files that train, evaluate with reports or build PyTorch models as a whole: without the
# training install (`pip install dermaseg`, no torch) they are not collected, and the header
# says so. Files that need it only in part skip with pytest.importorskip("torch").
TRAIN_ONLY_FILES = ["test_training_faults.py", "test_study.py", "test_shipped_model.py"]
HAS_TRAIN_INSTALL = importlib.util.find_spec("torch") is not None
collect_ignore = [] if HAS_TRAIN_INSTALL else TRAIN_ONLY_FILES


def pytest_report_header(config):
    if not HAS_TRAIN_INSTALL:
        return (f"inference install (no torch): not collected: {', '.join(TRAIN_ONLY_FILES)}; "
                "tests needing the training install are skipped")
    return None
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
ISIC2017 = SHARED_DATA / "isic2017"
HAM10000 = SHARED_DATA / "ham10000"


def require_shared_data():
    if not (ISIC2017.is_dir() and HAM10000.is_dir()):
        pytest.skip(f"real data not found at {SHARED_DATA}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    require_shared_data()
    return SHARED_DATA


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
