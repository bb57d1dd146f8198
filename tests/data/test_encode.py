"""Mask PNGs and overlay JPEGs as written."""

from __future__ import annotations

import io

import cv2
import numpy as np


def test_mask_png_is_8_bit_single_channel_and_overlay_a_jpeg(tmp_path):
    """The fast encodings keep the ISIC submission format: 8-bit, one channel, values 0 and 255."""
    from PIL import Image

    from dermaseg.data.encode import encode_png, write_jpeg, write_png

    mask = np.zeros((301, 402), np.uint8)
    cv2.circle(mask, (200, 150), 90, 255, -1)
    write_png(tmp_path / "m.png", mask)
    with Image.open(tmp_path / "m.png") as im:
        assert im.mode == "L" and im.format == "PNG"
        assert np.array_equal(np.asarray(im), mask)
    with Image.open(io.BytesIO(encode_png(mask))) as im:
        assert np.array_equal(np.asarray(im), mask)
    picture = np.full((120, 160, 3), (200, 150, 130), np.uint8)
    write_jpeg(tmp_path / "o.jpg", picture)
    with Image.open(tmp_path / "o.jpg") as im:
        assert im.format == "JPEG" and im.size == (160, 120)
        assert np.abs(np.asarray(im).astype(int) - picture).max() <= 3
