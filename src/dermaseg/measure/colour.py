"""Dermoscopic colours present in a lesion (the 'C' of the ABCD rule).

Each lesion pixel is named after the nearest of a few reference colours in CIELAB,
after a white balance that makes the surrounding skin neutral; a colour is present when
it names at least MIN_COLOUR_FRACTION of the lesion. References and thresholds are this
project's choices, set on HAM10000 images; docs/measurements.md gives the figures.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

COLOURS = ("white", "red", "light_brown", "dark_brown", "blue_gray", "black")

# Reference colours in CIELAB (D65; L 0-100) in the skin-neutral frame made by
# `skin_white_balance`. "skin" absorbs normal skin caught inside the mask's margin
# and is never reported. An approximate sRGB look-alike follows each.
REFERENCES_LAB = {
    "white": (92.0, 0.0, 0.0),  # (236, 236, 236)
    "red": (48.0, 42.0, 0.0),  # (179, 79, 117)
    "light_brown": (58.0, 15.0, 24.0),  # (178, 131, 99)
    "dark_brown": (32.0, 14.0, 18.0),  # (103, 67, 49)
    "blue_gray": (50.0, -3.0, -11.0),  # (102, 122, 140)
    "black": (12.0, 0.0, 0.0),  # (30, 30, 30)
    "skin": (74.0, 3.0, 4.0),  # (190, 181, 176)
}
MIN_COLOUR_FRACTION = 0.05  # share of the lesion's pixels a colour must name to count
MAX_DELTA_E = 40.0  # pixels further than this from every reference stay unnamed
MAX_PIXELS = 500_000  # lesions larger than this are subsampled on a regular grid
BORDER_MARGIN = 0.02  # rim left out of the colour count, as a share of the equivalent diameter
SKIN_MIN_PIXELS = 500  # fewer skin pixels than this: no white balance (nothing to learn from)
SKIN_MIN_GRAY = 40  # darker pixels are vignette corners or hair, not skin

_NAMES = list(REFERENCES_LAB)
_REFS = np.array([REFERENCES_LAB[n] for n in _NAMES], dtype=np.float32)
_SHIFT = 2  # colours are named at 6 bits per channel
_LEVELS = 256 >> _SHIFT


def grid_step(n_pixels: int, budget: int = MAX_PIXELS) -> int:
    """Stride (both axes) that brings n_pixels under budget."""
    return max(1, int(np.ceil(np.sqrt(n_pixels / budget))))


def skin_white_balance(image: np.ndarray, lesion_mask: np.ndarray, p: float = 6.0) -> np.ndarray:
    """Per-channel gains that make the skin around the lesions neutral gray.

    Shades of Gray (Finlayson & Trezzi 2004, p=6 as in Barata et al. 2015) estimated on the
    non-lesion pixels only: estimated on the whole image it would also neutralise a lesion
    filling the frame. Brightness is kept (gains average to ~1).
    """
    step = grid_step(lesion_mask.size)
    img = np.ascontiguousarray(image[::step, ::step])
    skin = ~lesion_mask[::step, ::step]
    skin &= cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) > SKIN_MIN_GRAY
    if np.count_nonzero(skin) < SKIN_MIN_PIXELS:
        return np.ones(3, dtype=np.float32)
    # The p-norm from per-channel histograms: exact, and no float copy of the image.
    levels = (np.arange(256, dtype=np.float64) / 255.0) ** p
    skin_u8 = skin.view(np.uint8)
    illuminant = np.array([
        (cv2.calcHist([img], [c], skin_u8, [256], [0, 256]).ravel() @ levels / np.count_nonzero(skin)) ** (1.0 / p)
        for c in range(3)])
    if not np.all(illuminant > 0):
        return np.ones(3, dtype=np.float32)
    return (illuminant.mean() / illuminant).astype(np.float32)


# The table below, computed once and shipped beside this module: building it takes ~200 ms,
# which was a third of one image's whole `dermaseg predict` run. A test checks it equals
# `build_name_table()`; after a change above rewrite it with
#   python -c "from dermaseg.measure import colour as c; c.np.save(c.NAME_TABLE_FILE, c.build_name_table())"
NAME_TABLE_FILE = Path(__file__).with_name("colour_names.npy")


def build_name_table() -> np.ndarray:
    """Index of the nearest reference (or 'unnamed') for every 6-bit-per-channel RGB value.

    Naming through a 64^3 table is ~20x faster than per-pixel distances, and the quantisation
    (+-2 of 255 per channel) moves a colour by about one delta E unit.
    """
    levels = np.arange(_LEVELS, dtype=np.float32) * (256 // _LEVELS) + (256 // _LEVELS - 1) / 2
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 1, 3)
    lab = cv2.cvtColor(grid / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    dist2 = ((lab[:, None, :] - _REFS[None, :, :]) ** 2).sum(axis=2)  # CIE76 delta E, squared
    nearest = dist2.argmin(axis=1)
    nearest[dist2.min(axis=1) > MAX_DELTA_E ** 2] = len(_NAMES)  # unnamed
    return nearest.astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _name_table() -> np.ndarray:
    try:
        table = np.load(NAME_TABLE_FILE, allow_pickle=False)
        if table.shape == (_LEVELS ** 3,) and table.dtype == np.uint8:
            return table
    except (OSError, ValueError):
        pass
    return build_name_table()   # the shipped file missing or damaged: the same table, slower


def colour_fractions(pixels: np.ndarray, gains: np.ndarray | None = None) -> dict[str, float]:
    """Share of `pixels` (N, 3 RGB uint8) named by each dermoscopic colour."""
    if len(pixels) == 0:
        return {name: 0.0 for name in COLOURS}
    pixels = np.asarray(pixels, dtype=np.uint8).reshape(-1, 3)
    if gains is not None:
        pixels = np.clip(pixels * np.asarray(gains, dtype=np.float32) + 0.5, 0, 255).astype(np.uint8)
    q = (pixels >> _SHIFT).astype(np.intp)
    names = _name_table()[(q[:, 0] * _LEVELS + q[:, 1]) * _LEVELS + q[:, 2]]
    counts = np.bincount(names, minlength=len(_NAMES) + 1)
    return {name: float(counts[_NAMES.index(name)]) / len(pixels) for name in COLOURS}


def colours_present(fractions: dict[str, float], min_fraction: float = MIN_COLOUR_FRACTION) -> list[str]:
    """Colours covering at least `min_fraction` of the lesion, in the canonical order."""
    return [name for name in COLOURS if fractions.get(name, 0.0) >= min_fraction]


def lesion_pixels(image: np.ndarray, region: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """RGB values of a lesion's inner pixels, on a regular subsampling grid when it is huge.

    A rim of BORDER_MARGIN x the equivalent diameter is left out: there the pixels mix
    lesion and skin (and a predicted border may be a little off), which shows up as
    spurious blue-gray or white. A lesion too small to spare its rim keeps it.
    """
    h, w = region.shape
    area = int(np.count_nonzero(region))
    step = grid_step(area)
    sampled = np.ascontiguousarray(region[::step, ::step])
    margin = BORDER_MARGIN * np.sqrt(4.0 * area / np.pi) / step
    if margin >= 0.5:
        depth = cv2.distanceTransform(np.pad(sampled, 1).view(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
        inner = depth > margin
        if np.count_nonzero(inner) >= 0.25 * np.count_nonzero(sampled):
            sampled = inner
    return image[y0:y0 + h:step, x0:x0 + w:step][sampled]
