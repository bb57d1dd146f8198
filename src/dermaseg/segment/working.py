"""The working resolution: where post-processing, measurements and the overlay happen.

The network sees ~200 px; a dermoscope photograph has 6-24 Mpx. Cleaning the mask and
measuring the lesion on a copy whose long side is at most WORK_MAX_SIDE costs the same for
every photograph and changes the figures by well under 1 % (lengths and areas are converted
back to full-resolution pixels; the tests hold it to 1 % on real lesion masks).
JPEGs are decoded at reduced scale down to WORK_DECODE_SIDE, and the working copy is never
larger than what was decoded, so a 6 Mpx photograph decoded at 1/4 is worked on at 750 px
without a resize. Only the final mask is brought to the image's own size, by one linear
upscale of the clean working mask.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_MAX_SIDE = 768


def working_size(full_size: tuple[int, int], max_side: int = WORK_MAX_SIDE) -> tuple[int, int]:
    """(h, w) of the working copy of an image of `full_size` (h, w): long side <= max_side."""
    h, w = full_size
    scale = min(1.0, max_side / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def decoded_working_size(full_size: tuple[int, int], decoded_size: tuple[int, int]) -> tuple[int, int]:
    """Working (h, w) for an image of `full_size` decoded at `decoded_size`: no larger than either."""
    return working_size(full_size, min(WORK_MAX_SIDE, max(decoded_size)))


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB image to (h, w): area averaging when shrinking, linear when enlarging."""
    if image.shape[:2] == tuple(size):
        return image
    shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def upscale_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A {0,255} mask to (h, w): linear interpolation thresholded at half, so the border stays
    smooth instead of the staircase a nearest-neighbour upscale would draw."""
    if mask.shape[:2] == tuple(size):
        return mask
    big = cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    _, out = cv2.threshold(big, 127, 255, cv2.THRESH_BINARY)
    return out


_AREAS = ("area_px",)
_LENGTHS = ("perimeter_px", "equivalent_diameter_px", "max_feret_diameter_px", "major_axis_length_px",
            "minor_axis_length_px")


def measure_scaled(mask: np.ndarray, image: np.ndarray | None, full_size: tuple[int, int],
                   mm_per_pixel: float | None = None) -> list[dict]:
    """measure_lesions on a working-resolution mask (and image), in full-resolution units.

    Shape ratios (asymmetry, border irregularity) and colours are scale-free and kept as
    measured; lengths are multiplied by the scale, areas by its square, the centroid maps to
    full-resolution coordinates.
    """
    from dermaseg.measure import MIN_AREA_PX, measure_lesions

    sy, sx = full_size[0] / mask.shape[0], full_size[1] / mask.shape[1]
    s = (sx + sy) / 2.0
    if s == 1.0:
        return measure_lesions(mask, image, mm_per_pixel=mm_per_pixel)
    min_area = max(1, round(MIN_AREA_PX / (sx * sy)))  # the same speck size in full-resolution pixels
    rows = measure_lesions(mask, image, mm_per_pixel=mm_per_pixel * s if mm_per_pixel else None, min_area_px=min_area)
    for row in rows:
        row["area_px"] = int(round(row["area_px"] * sx * sy))
        for key in _LENGTHS:
            row[key] *= s
        row["centroid_x"] = (row["centroid_x"] + 0.5) * sx - 0.5
        row["centroid_y"] = (row["centroid_y"] + 0.5) * sy - 0.5
    return rows
