"""Hand-crafted lesion features: GLCM texture, colour histograms and moments, ABCD measurements.

The pre-deep-learning description of a dermoscopic image, computed from the image and a
lesion mask (in the classical pipeline, the mask the segmentation model predicts):

- texture: grey-level co-occurrence matrices (scikit-image `graycomatrix`/`graycoprops`) of
  the lesion's bounding box, 32 grey levels, distances 1, 2, 4 px, four directions; per
  distance the mean over the directions (rotation-invariant) and their range (directionality);
- colour: per-channel histograms of the lesion's pixels in HSV, and the first three moments
  (mean, standard deviation, skewness) of every channel in RGB, HSV and CIELAB (hue, an angle,
  by its mean cosine, mean sine and circular standard deviation), plus the
  lesion-minus-surrounding-skin contrast in CIELAB (it cancels part of the lighting);
- ABCD: the scale-free figures of `dermaseg.measure.measure_lesions` on the largest lesion
  (asymmetry, border irregularity, the six dermoscopic colours, partial TDS) and shape ratios.

Every feature is a pure function of the pixels: the same image and mask give the same vector.
`FEATURE_NAMES` lists the vector's entries; the prefixes glcm_, hist_, moment_, abcd_ name the
groups (`feature_groups`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from dermaseg.measure.colour import COLOURS

GLCM_LEVELS = 32
GLCM_DISTANCES = (1, 2, 4)
GLCM_ANGLES = (0.0, math.pi / 4, math.pi / 2, 3 * math.pi / 4)
GLCM_PROPS = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")
HIST_BINS = 16
SPACES = ("rgb", "hsv", "lab")
CHANNELS = {"rgb": "RGB", "hsv": "HSV", "lab": "Lab"}
ABCD = ("lesion_found", "n_lesions", "area_fraction", "border_irregularity", "asymmetry_major",
        "asymmetry_minor", "asymmetry_shape_score", "axis_ratio", "feret_to_diameter", "centre_offset", "n_colours",
        *(f"colour_{c}" for c in COLOURS), "tds_partial")
GROUPS = ("glcm", "hist", "moment", "abcd")


def _names() -> list[str]:
    names = [f"glcm_{p}_d{d}_{stat}" for p in GLCM_PROPS for d in GLCM_DISTANCES for stat in ("mean", "range")]
    names += [f"hist_hsv_{ch}_{b}" for ch in CHANNELS["hsv"] for b in range(HIST_BINS)]
    names += [f"moment_{space}_{ch}_{m}" for space in SPACES for ch in CHANNELS[space]
              for m in (("cos", "sin", "circstd") if (space, ch) == ("hsv", "H") else ("mean", "std", "skew"))]
    names += [f"moment_contrast_lab_{ch}" for ch in CHANNELS["lab"]]
    names += [f"abcd_{n}" for n in ABCD]
    return names


FEATURE_NAMES: list[str] = _names()


def feature_groups(names: list[str] | None = None) -> dict[str, list[int]]:
    """Group -> column indices: glcm (texture), hist and moment (colour), abcd."""
    names = names or FEATURE_NAMES
    return {g: [i for i, n in enumerate(names) if n.startswith(g + "_")] for g in GROUPS}


def resize_pair(image: np.ndarray, mask: np.ndarray, max_side: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Image (area interpolation) and mask (nearest) shrunk so the long side is <= max_side."""
    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image, mask
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)


def _bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    return slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)


def glcm_features(gray: np.ndarray, lesion: np.ndarray) -> list[float]:
    """GLCM properties of the lesion's bounding box (the whole image when there is no lesion)."""
    from skimage.feature import graycomatrix, graycoprops

    box = _bbox(lesion)
    patch = gray[box] if box is not None and min(gray[box].shape) > max(GLCM_DISTANCES) else gray
    quantised = (patch.astype(np.uint16) * GLCM_LEVELS // 256).astype(np.uint8)
    glcm = graycomatrix(quantised, GLCM_DISTANCES, GLCM_ANGLES, levels=GLCM_LEVELS, symmetric=True, normed=True)
    out = []
    for prop in GLCM_PROPS:
        values = np.nan_to_num(graycoprops(glcm, prop), nan=1.0)   # correlation of a flat patch: NaN -> 1
        for d in range(len(GLCM_DISTANCES)):
            out += [float(values[d].mean()), float(values[d].max() - values[d].min())]
    return out


def _moments(pixels: np.ndarray) -> list[float]:
    """Mean, standard deviation and skewness of each column of (N, 3) pixels."""
    x = pixels.astype(np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    centred = x - mean
    skew = np.divide((centred ** 3).mean(axis=0), std ** 3, out=np.zeros(3), where=std > 1e-9)
    return [float(v) for ch in range(3) for v in (mean[ch], std[ch], skew[ch])]


def _hue_moments(hue: np.ndarray) -> list[float]:
    """Hue is an angle (red sits at both ends of 0..255): mean cosine, mean sine, circular std."""
    angle = hue.astype(np.float64) * (2 * math.pi / 256)
    c, s = float(np.cos(angle).mean()), float(np.sin(angle).mean())
    r = min(1.0, math.hypot(c, s))
    return [c, s, math.sqrt(-2 * math.log(r)) if r > 1e-12 else math.pi]


def colour_features(image: np.ndarray, lesion: np.ndarray) -> list[float]:
    """HSV histograms and RGB/HSV/Lab moments of the lesion, and its Lab contrast with the skin."""
    inside = lesion > 0
    if not inside.any():
        inside = np.ones(lesion.shape, bool)          # no lesion found: describe the whole image
    outside = ~inside if (~inside).any() else np.ones(lesion.shape, bool)
    converted = {"rgb": image,
                 "hsv": cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL),   # hue on 0..255
                 "lab": cv2.cvtColor(image, cv2.COLOR_RGB2LAB)}
    hsv = converted["hsv"][inside]
    out = []
    for ch in range(3):
        hist = np.bincount(hsv[:, ch].astype(np.int64) * HIST_BINS // 256, minlength=HIST_BINS)
        out += (hist / hist.sum()).tolist()
    for space in SPACES:
        moments = _moments(converted[space][inside])
        if space == "hsv":
            moments[0:3] = _hue_moments(hsv[:, 0])
        out += moments
    lab = converted["lab"].astype(np.float64)
    out += (lab[inside].mean(axis=0) - lab[outside].mean(axis=0)).tolist()
    return out


def abcd_features(image: np.ndarray, lesion: np.ndarray) -> list[float]:
    """Scale-free ABCD figures of the largest lesion (`dermaseg.measure`); zeros when none is found."""
    from dermaseg.measure import measure_lesions

    lesions = measure_lesions(lesion, image)
    if not lesions:
        return [0.0] * len(ABCD)
    m = lesions[0]
    h, w = lesion.shape[:2]
    area = float(m["area_px"])
    offset = math.hypot(m["centroid_x"] - (w - 1) / 2, m["centroid_y"] - (h - 1) / 2) / (math.hypot(w, h) / 2)
    present = set(m["colours_present"] or [])
    values = {
        "lesion_found": 1.0, "n_lesions": float(len(lesions)), "area_fraction": area / (h * w),
        "border_irregularity": m["border_irregularity"], "asymmetry_major": m["asymmetry_major"],
        "asymmetry_minor": m["asymmetry_minor"], "asymmetry_shape_score": float(m["asymmetry_shape_score"]),
        "axis_ratio": m["minor_axis_length_px"] / max(m["major_axis_length_px"], 1e-9),
        "feret_to_diameter": m["max_feret_diameter_px"] / max(m["equivalent_diameter_px"], 1e-9),
        "centre_offset": offset, "n_colours": float(m["n_colours"] or 0), "tds_partial": float(m["tds_partial"]),
        **{f"colour_{c}": float(c in present) for c in COLOURS},
    }
    return [float(values[n]) for n in ABCD]


def lesion_features(image: np.ndarray, mask: np.ndarray, max_side: int | None = 200) -> np.ndarray:
    """float64 vector (len(FEATURE_NAMES)) of an RGB uint8 image and its lesion mask (same size)."""
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if mask.shape[:2] != image.shape[:2]:
        raise ValueError(f"mask is {mask.shape[:2]} but the image is {image.shape[:2]}: they must match")
    mask = np.where(mask > 0, 255, 0).astype(np.uint8)
    image, mask = resize_pair(np.ascontiguousarray(image), mask, max_side)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    vector = glcm_features(gray, mask) + colour_features(image, mask) + abcd_features(image, mask)
    out = np.asarray(vector, dtype=np.float64)
    if len(out) != len(FEATURE_NAMES) or not np.isfinite(out).all():
        raise ValueError(f"feature vector has {len(out)} entries (expected {len(FEATURE_NAMES)}) or non-finite values")
    return out
