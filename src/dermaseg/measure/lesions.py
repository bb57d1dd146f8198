"""Per-lesion measurements of a mask (and its image): one dict per lesion, and a table."""

from __future__ import annotations

import math

import numpy as np

from dermaseg.measure import colour
from dermaseg.measure.abcd import asymmetry_score, total_dermoscopy_score
from dermaseg.measure.shape import as_lesion_mask, asymmetry, find_lesions, shape_features

MIN_AREA_PX = 64  # smaller components are specks, not lesions
# The largest scale the commands and the API take: no photograph of skin has 10 mm pixels (a
# dermoscope gives ~0.005-0.05 mm), and an absurd scale only overflows the areas.
MAX_MM_PER_PIXEL = 10.0

# Pixel lengths and areas that get a millimetre twin when a scale is given.
_LENGTHS = ("perimeter", "equivalent_diameter", "max_feret_diameter", "major_axis_length", "minor_axis_length")

# Column order of the table; keys not listed here follow, in first-seen order.
COLUMNS = (
    "image_id", "lesion_index", "area_px", "area_mm2", "perimeter_px", "perimeter_mm",
    "equivalent_diameter_px", "equivalent_diameter_mm", "max_feret_diameter_px", "max_feret_diameter_mm",
    "major_axis_length_px", "major_axis_length_mm", "minor_axis_length_px", "minor_axis_length_mm",
    "centroid_x", "centroid_y", "asymmetry_major", "asymmetry_minor", "asymmetry_shape_score",
    "border_irregularity", "colours_present", "n_colours", "tds_partial", "tds_parts",
)


def _check_inputs(mask: np.ndarray, image: np.ndarray | None, mm_per_pixel: float | None) -> None:
    if image is not None:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
        if image.shape[:2] != mask.shape[:2]:
            raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but the image is "
                             f"{image.shape[1]}x{image.shape[0]}: the mask must be at the image's size")
    if mm_per_pixel is not None and not (math.isfinite(mm_per_pixel) and mm_per_pixel > 0):
        raise ValueError(f"mm_per_pixel must be a positive number, got {mm_per_pixel!r}")


def measure_lesions(mask: np.ndarray, image: np.ndarray | None = None, mm_per_pixel: float | None = None,
                    min_area_px: int = MIN_AREA_PX) -> list[dict]:
    """Measure every connected lesion of `mask`, largest first (lesion_index 1 is the largest).

    mask: (H, W) bool, {0,1}, {0,255} or probabilities. image: RGB uint8 (H, W, 3), needed
    for the colours (without it colours_present and n_colours are None and the TDS uses A
    only). mm_per_pixel: adds *_mm / *_mm2 twins of the pixel lengths and area. Holes are
    filled (a lesion is what its outer border encloses). An empty mask gives [].
    Definitions, thresholds and references: docs/measurements.md.
    """
    mask = np.asarray(mask)
    _check_inputs(mask, image, mm_per_pixel)
    lesion_mask = as_lesion_mask(mask)
    lesions = find_lesions(lesion_mask, min_area_px)
    gains = colour.skin_white_balance(image, lesion_mask) if image is not None and lesions else None

    results = []
    for index, lesion in enumerate(lesions, start=1):
        row: dict = {"lesion_index": index}
        row.update(shape_features(lesion))
        mismatch_major, mismatch_minor = asymmetry(lesion.region)
        row["asymmetry_major"] = mismatch_major
        row["asymmetry_minor"] = mismatch_minor
        row["asymmetry_shape_score"] = asymmetry_score(mismatch_major, mismatch_minor)

        present = None
        if image is not None:
            fractions = colour.colour_fractions(colour.lesion_pixels(image, lesion.region, lesion.x0, lesion.y0), gains)
            present = colour.colours_present(fractions)
        row["colours_present"] = present
        row["n_colours"] = None if present is None else len(present)
        # B (abrupt border cut-off) and D (structures) are not measured: see docs/measurements.md.
        row["tds_partial"], row["tds_parts"] = total_dermoscopy_score(A=row["asymmetry_shape_score"], C=row["n_colours"])

        if mm_per_pixel is not None:
            row["area_mm2"] = row["area_px"] * mm_per_pixel ** 2
            for name in _LENGTHS:
                row[f"{name}_mm"] = row[f"{name}_px"] * mm_per_pixel
        results.append(row)
    return results


def measurements_table(results: dict[str, list[dict]]) -> "pandas.DataFrame":  # noqa: F821
    """One row per lesion, with image_id first; an image without lesions keeps one row
    with only its image_id, so every image measured appears. Lists become ';'-joined text."""
    import pandas as pd

    rows = []
    for image_id, lesions in results.items():
        if not lesions:
            rows.append({"image_id": image_id})
        for lesion in lesions:
            row = {"image_id": image_id}
            for key, value in lesion.items():
                row[key] = ";".join(value) if isinstance(value, (list, tuple)) else value
            rows.append(row)
    extra = [key for row in rows for key in row if key not in COLUMNS]
    columns = [c for c in COLUMNS if any(c in row for row in rows)] + list(dict.fromkeys(extra))
    table = pd.DataFrame(rows, columns=columns or ["image_id"])
    for name in ("lesion_index", "area_px", "asymmetry_shape_score", "n_colours"):
        if name in table:
            table[name] = table[name].astype("Int64")  # integers with gaps, not floats
    return table
