"""Cropping to the lesion before classifying."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install



def test_lesion_crop_is_a_square_around_the_mask():
    from dermaseg.classify.crop import crop_to_lesion, lesion_box

    mask = np.zeros((150, 200), np.uint8)
    mask[40:80, 90:150] = 255
    top, bottom, left, right = lesion_box(mask, margin=0.0)
    assert (bottom - top, right - left) == (60, 60) and left == 90 and top == 30
    assert crop_to_lesion(np.zeros((150, 200, 3), np.uint8), np.zeros((150, 200), np.uint8)).shape == (150, 200, 3)
