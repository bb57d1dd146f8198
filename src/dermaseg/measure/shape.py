"""Shape measurements of lesions in a binary mask: components, size, Feret, asymmetry.

Everything is computed on each lesion's bounding-box crop, so a 6000x4000 mask costs
one connected-component pass plus work proportional to the lesion, not to the image.
NumPy and OpenCV only (the inference install has no SciPy or scikit-image); the definitions
are scikit-image's regionprops ones, and the tests check the figures against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Asymmetry is scale-free, so it is computed on a crop no larger than this (pixels, long side).
ASYMMETRY_MAX_SIDE = 512


@dataclass(frozen=True)
class Lesion:
    """One connected lesion: its hole-filled footprint cropped to its bounding box."""

    region: np.ndarray  # bool (h, w), holes filled
    x0: int  # crop origin in the full image
    y0: int


def as_lesion_mask(mask: np.ndarray) -> np.ndarray:
    """Boolean lesion mask from a bool, {0,1}, {0,255} or probability (float 0-1) mask.

    {0,255} masks are thresholded at 128 like data.io.binarise_mask, probabilities at 0.5.
    """
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    if mask.dtype == bool:
        return mask
    if not np.issubdtype(mask.dtype, np.number):
        raise ValueError(f"mask must be boolean or numeric, got dtype {mask.dtype}")
    small_range = mask.size == 0 or mask.max() <= 1
    if np.issubdtype(mask.dtype, np.floating):
        return mask >= (0.5 if small_range else 128)
    return mask > 0 if small_range else mask >= 128


def find_lesions(mask: np.ndarray, min_area_px: int) -> list[Lesion]:
    """Connected lesions (8-connectivity), holes filled, largest first.

    Components smaller than `min_area_px` (before filling) are dropped, and so is a
    component lying inside a hole of a larger lesion (it is part of that lesion).
    """
    lesion = as_lesion_mask(mask)
    if not lesion.any():
        return []
    # OpenCV's labelling is ~8x faster than skimage.measure.label on full-size masks.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        np.ascontiguousarray(lesion).view(np.uint8), connectivity=8)
    order = sorted(range(1, n), key=lambda k: -stats[k, cv2.CC_STAT_AREA])
    found: list[Lesion] = []
    for k in order:
        if stats[k, cv2.CC_STAT_AREA] < min_area_px:
            break
        x0, y0, w, h = (int(stats[k, c]) for c in
                        (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
        region = labels[y0:y0 + h, x0:x0 + w] == k
        if _inside_earlier(region, x0, y0, found):
            continue
        found.append(Lesion(fill_holes(region), x0, y0))
    return found


def fill_holes(region: np.ndarray) -> np.ndarray:
    """Region with its holes filled: flood the 4-connected background in from the edge.

    Same result as scipy.ndimage.binary_fill_holes, about 8x faster on large crops.
    """
    padded = np.pad(region, 1).astype(np.uint8)
    cv2.floodFill(padded, None, (0, 0), 1)  # 4-connectivity: the complement of 8-connected lesions
    return region | (padded[1:-1, 1:-1] == 0)


def _inside_earlier(region: np.ndarray, x0: int, y0: int, earlier: list[Lesion]) -> bool:
    # A component inside another's hole is wholly inside it: testing one pixel is enough
    # (the bounding box is tight, so its top row holds a lesion pixel).
    y, x = y0, x0 + int(np.argmax(region[0]))
    for other in earlier:
        oy, ox = y - other.y0, x - other.x0
        if 0 <= oy < other.region.shape[0] and 0 <= ox < other.region.shape[1] and other.region[oy, ox]:
            return True
    return False


def feret_diameter_max(region: np.ndarray) -> float:
    """Maximum Feret diameter with skimage's definition, fast on large regions.

    skimage's `regionprops(...).feret_diameter_max` is the largest distance between points of
    the 0.5-level contour of the region. On a binary image that contour crosses every edge
    between a lesion pixel and a 4-adjacent background pixel at its midpoint, so those
    midpoints are the contour's points; the largest distance between them is reached at
    vertices of their convex hull.
    """
    padded = np.pad(region.astype(bool), 1)
    rows, cols = np.nonzero(padded[:, 1:] != padded[:, :-1])        # horizontal edges: (r, c + 0.5)
    rows2, cols2 = np.nonzero(padded[1:, :] != padded[:-1, :])      # vertical edges: (r + 0.5, c)
    points = np.concatenate([np.stack([cols + 0.5, rows], axis=1), np.stack([cols2, rows2 + 0.5], axis=1)])
    if len(points) < 2:
        return 0.0
    hull = cv2.convexHull(points.astype(np.float32).reshape(-1, 1, 2)).reshape(-1, 2).astype(np.float64)
    if len(hull) < 2:
        return 0.0
    diff = hull[:, None, :] - hull[None, :, :]
    return float(np.sqrt((diff ** 2).sum(axis=2).max()))


# Crofton perimeter weights (4 directions) per 2x2 pixel configuration, as in
# skimage.measure.perimeter_crofton.
_S2 = np.sqrt(2.0)
_CROFTON4 = np.array([0, np.pi / 4 * (1 + 1 / _S2), np.pi / (4 * _S2), np.pi / (2 * _S2), 0,
                      np.pi / 4 * (1 + 1 / _S2), 0, np.pi / (4 * _S2), np.pi / 4, np.pi / 2,
                      np.pi / (4 * _S2), np.pi / (4 * _S2), np.pi / 4, np.pi / 2, 0, 0])


def perimeter_crofton(region: np.ndarray) -> float:
    """skimage.measure.perimeter_crofton(region, directions=4), on NumPy alone."""
    img = np.pad(region.astype(np.uint8), ((2, 1), (2, 1)))  # skimage's pad of 1, plus the kernel's reach
    code = img[1:, 1:] + 4 * img[1:, :-1] + 2 * img[:-1, 1:] + 8 * img[:-1, :-1]
    return float(_CROFTON4 @ np.bincount(code.ravel(), minlength=16))


def shape_features(lesion: Lesion) -> dict:
    """Size and outline figures of one lesion, in pixels.

    Perimeter is skimage's `perimeter_crofton` (Crofton formula, 4 directions): within 1%
    on discs and ellipses, where the 8-neighbour `perimeter` overestimates curved borders
    by ~5%; its cost is an orientation dependence on long straight edges (-5% on an
    axis-aligned square, +3% at 22.5 degrees), which lesion borders do not have.
    """
    area = float(np.count_nonzero(lesion.region))
    perimeter = perimeter_crofton(lesion.region)
    # Centroid and axes from OpenCV moments: regionprops' coordinate-list centroid costs
    # ~1 s on a 10-megapixel lesion, the moments ~20 ms; the definitions are the same.
    cx, cy, major, minor = _moment_axes(lesion.region)
    return {
        "area_px": int(area),
        "perimeter_px": perimeter,
        "equivalent_diameter_px": float(np.sqrt(4.0 * area / np.pi)),
        "max_feret_diameter_px": feret_diameter_max(lesion.region),
        "major_axis_length_px": major,
        "minor_axis_length_px": minor,
        "centroid_x": cx + lesion.x0,
        "centroid_y": cy + lesion.y0,
        # Compactness index: 1 for a disc, 4/pi for a square, larger for ragged borders.
        "border_irregularity": perimeter ** 2 / (4.0 * np.pi * area) if area else float("nan"),
    }


def _moment_axes(region: np.ndarray) -> tuple[float, float, float, float]:
    """Centroid (x, y) and skimage's axis_major/minor_length (4 sqrt of inertia eigenvalues)."""
    m = cv2.moments(region.view(np.uint8), binaryImage=True)
    cov = np.array([[m["mu20"], m["mu11"]], [m["mu11"], m["mu02"]]]) / m["m00"]
    small, large = np.clip(np.linalg.eigvalsh(cov), 0, None)
    return m["m10"] / m["m00"], m["m01"] / m["m00"], 4.0 * float(np.sqrt(large)), 4.0 * float(np.sqrt(small))


def principal_axes(region: np.ndarray) -> tuple[float, float, float]:
    """Centroid (x, y) and the major axis angle (radians, x right, y down) of a region."""
    m = cv2.moments(region.astype(np.float32))
    cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    theta = 0.5 * np.arctan2(2.0 * m["mu11"], m["mu20"] - m["mu02"])
    return cx, cy, theta


def asymmetry(region: np.ndarray, max_side: int = ASYMMETRY_MAX_SIDE) -> tuple[float, float]:
    """Area mismatch when the lesion is flipped about its major and its minor axis.

    Each axis passes through the centroid (second-moment principal axes). The mismatch
    is the fraction of the lesion's area whose mirror image falls outside the lesion,
    |L minus flip(L)| / |L| = |L xor flip(L)| / (2|L|): 0 for a mirror-symmetric shape, at
    most 1. Computed on a copy scaled to `max_side` with area averaging (the measure is
    scale-free) and bilinear sampling, so sub-pixel centroids do not create mismatch.
    """
    m = region.astype(np.float32)
    scale = min(1.0, max_side / max(m.shape))
    if scale < 1.0:
        size = (max(1, round(m.shape[1] * scale)), max(1, round(m.shape[0] * scale)))
        m = cv2.resize(m, size, interpolation=cv2.INTER_AREA)
    total = float(m.sum())
    if total <= 0:
        return 0.0, 0.0
    cx, cy, theta = principal_axes(m)
    ys, xs = np.mgrid[0:m.shape[0], 0:m.shape[1]].astype(np.float32)
    dx, dy = xs - cx, ys - cy
    mismatch = []
    for angle in (theta, theta + np.pi / 2):  # flip about the major, then the minor axis
        ux, uy = np.cos(angle), np.sin(angle)
        along = dx * ux + dy * uy  # reflection about the axis: p' = c + 2(p.u)u - p
        map_x = (cx + 2 * along * ux - dx).astype(np.float32)
        map_y = (cy + 2 * along * uy - dy).astype(np.float32)
        mirrored = cv2.remap(m, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        mismatch.append(float(np.clip(m - mirrored, 0, None).sum() / total))
    return mismatch[0], mismatch[1]
