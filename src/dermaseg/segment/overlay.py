"""The overlay picture: the lesion's outline over the image, at most OVERLAY_MAX_SIDE pixels.

An outline, not a tinted fill: the colours inside the lesion stay as the camera saw them,
and they are what the colour measurements describe. The outline is traced on the mask at
its own resolution and drawn, scaled, with sub-pixel precision on a copy of the image at
overlay size, so a 24 Mpx photograph costs the same as a 1 Mpx one.
"""

from __future__ import annotations

import cv2
import numpy as np

from dermaseg.segment.working import resize_image

CONTOUR_RGB = (255, 255, 0)
OVERLAY_MAX_SIDE = 1600
_SHIFT = 4  # cv2 drawing: coordinates with 4 fractional bits


def overlay_size(image_size: tuple[int, int], max_side: int = OVERLAY_MAX_SIDE) -> tuple[int, int]:
    h, w = image_size
    scale = min(1.0, max_side / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def overlay(image: np.ndarray, mask: np.ndarray, max_side: int = OVERLAY_MAX_SIDE) -> np.ndarray:
    """RGB uint8 picture of `image` (long side <= max_side) with the outline of `mask` (any size)."""
    out = resize_image(image, overlay_size(image.shape[:2], max_side)).copy()
    if mask.any():
        contours, _ = cv2.findContours((mask > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        sy, sx = out.shape[0] / mask.shape[0], out.shape[1] / mask.shape[1]
        # pixel centres map to pixel centres: x' = (x + 0.5) * s - 0.5
        scaled = [np.round(((c.astype(np.float64) + 0.5) * (sx, sy) - 0.5) * (1 << _SHIFT)).astype(np.int32)
                  for c in contours]
        thickness = max(2, round(max(out.shape[:2]) / 400))
        cv2.polylines(out, scaled, True, CONTOUR_RGB, thickness, lineType=cv2.LINE_AA, shift=_SHIFT)
    return out
