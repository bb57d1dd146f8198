"""Lesion measurements from a mask: size, shape, asymmetry, border, colours, ABCD score.

    from dermaseg.measure import measure_lesions, measurements_table
    rows = measure_lesions(mask, image, mm_per_pixel=0.01)

Definitions and references: docs/measurements.md.
"""

from dermaseg.measure.abcd import ASYMMETRY_THRESHOLD, asymmetry_score, total_dermoscopy_score
from dermaseg.measure.colour import COLOURS
from dermaseg.measure.lesions import MAX_MM_PER_PIXEL, MIN_AREA_PX, measure_lesions, measurements_table

__all__ = [
    "ASYMMETRY_THRESHOLD",
    "COLOURS",
    "MAX_MM_PER_PIXEL",
    "MIN_AREA_PX",
    "asymmetry_score",
    "measure_lesions",
    "measurements_table",
    "total_dermoscopy_score",
]
