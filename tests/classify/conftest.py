"""Fixtures of the classification tests: a tiny three-class data set and its recipe overrides."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# --- a tiny run writes every artifact ------------------------------------------------------------

COLOURS = {"mel": (60, 30, 20), "nv": (150, 100, 70), "bkl": (200, 170, 120)}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A folder layout (images/ + labels.csv) of 3 colour-coded classes, two images per lesion."""
    root = tmp_path_factory.mktemp("tiny_cls")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for k, (dx, colour) in enumerate(COLOURS.items()):
        for lesion in range(8):
            for shot in range(2):
                image_id = f"{dx}_{lesion}_{shot}"
                img = np.full((36, 48, 3), (225, 190, 170), np.uint8)
                img[8:28, 12:36] = colour
                img = np.clip(img + rng.integers(-10, 11, img.shape), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(root / "images" / f"{image_id}.png")
                rows.append({"image_id": image_id, "dx": dx, "lesion_id": f"L{k}_{lesion}"})
    with open(root / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["image_id", "dx", "lesion_id"])
        w.writeheader()
        w.writerows(rows)
    return root


# --- whole-network runs checkpoint every epoch and resume ------------------------------------------

@pytest.fixture
def one_thread():
    """train.threads=1 sets torch's thread count for the process: put it back afterwards."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
