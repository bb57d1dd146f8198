"""The overlay picture: translucent fill and a contour over the image."""

from __future__ import annotations

import cv2
import numpy as np

FILL_RGB = (0, 200, 255)
CONTOUR_RGB = (255, 255, 0)


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.35) -> np.ndarray:
    """RGB uint8 overlay at the image's size; the mask is resized (nearest) if it is larger."""
    if mask.shape[:2] != image.shape[:2]:
        mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    out = image.copy()
    inside = mask > 0
    if inside.any():
        fill = np.array(FILL_RGB, np.float32)
        out[inside] = (out[inside] * (1 - alpha) + fill * alpha).astype(np.uint8)
        contours, _ = cv2.findContours((inside * 255).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        thickness = max(2, round(max(image.shape[:2]) / 400))
        cv2.drawContours(out, contours, -1, CONTOUR_RGB, thickness, lineType=cv2.LINE_AA)
    return out
