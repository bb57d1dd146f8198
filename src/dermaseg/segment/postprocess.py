"""Mask clean-up: keep the largest lesion, fill its holes (both optional, both measured in evaluate)."""

from __future__ import annotations

import cv2
import numpy as np


def keep_largest_component(mask: np.ndarray) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.where(labels == largest, 255, 0).astype(np.uint8)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Background not connected to the border is a hole: fill it."""
    binary = (mask > 0).astype(np.uint8)
    padded = np.pad(binary, 1)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 1)  # everything reachable from outside becomes 1
    holes = (flood[1:-1, 1:-1] == 0)
    return np.where(binary.astype(bool) | holes, 255, 0).astype(np.uint8)


def clean_mask(mask: np.ndarray) -> np.ndarray:
    return fill_holes(keep_largest_component(mask))
