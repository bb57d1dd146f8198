"""Units and one-line explanations of the measurement fields, for the API and the web page.

The fields are those `dermaseg.measure.measure_lesions` returns (the same as measurements.json);
definitions in docs/measurements.md.
"""

from __future__ import annotations

FIELDS: dict[str, tuple[str, str]] = {
    # name: (unit, explanation)
    "lesion_index": ("", "1 is the largest lesion in the image"),
    "area_px": ("px²", "pixels inside the outline (holes filled)"),
    "area_mm2": ("mm²", "area at the given scale"),
    "perimeter_px": ("px", "length of the outline (Crofton estimator)"),
    "perimeter_mm": ("mm", "length of the outline at the given scale"),
    "equivalent_diameter_px": ("px", "diameter of the disc with the same area"),
    "equivalent_diameter_mm": ("mm", "diameter of the disc with the same area"),
    "max_feret_diameter_px": ("px", "largest caliper width: the D of ABCD"),
    "max_feret_diameter_mm": ("mm", "largest caliper width: the D of ABCD"),
    "major_axis_length_px": ("px", "long axis of the ellipse with the same second moments"),
    "major_axis_length_mm": ("mm", "long axis of the ellipse with the same second moments"),
    "minor_axis_length_px": ("px", "short axis of the ellipse with the same second moments"),
    "minor_axis_length_mm": ("mm", "short axis of the ellipse with the same second moments"),
    "centroid_x": ("px", "centre of mass, from the image's left edge"),
    "centroid_y": ("px", "centre of mass, from the image's top edge"),
    "asymmetry_major": ("fraction", "area left unmatched when flipped about the long axis (0 = symmetric)"),
    "asymmetry_minor": ("fraction", "area left unmatched when flipped about the short axis (0 = symmetric)"),
    "asymmetry_shape_score": ("0–2", "axes with more than 10% mismatch: the shape part of ABCD's A"),
    "border_irregularity": ("ratio", "compactness P²/(4πA): 1 for a disc, larger for a ragged border"),
    "colours_present": ("", "dermoscopic colours covering at least 5% of the lesion"),
    "n_colours": ("count", "number of colours present: ABCD's C"),
    "tds_partial": ("score", "partial total dermoscopy score 1.3·A + 0.5·C (B and D not measured)"),
    "tds_parts": ("", "the ABCD parts the score includes"),
}


def describe(names) -> dict[str, dict[str, str]]:
    """{name: {'unit', 'description'}} for the given field names (unknown ones get empty text)."""
    return {n: {"unit": FIELDS.get(n, ("", ""))[0], "description": FIELDS.get(n, ("", ""))[1]} for n in names}
