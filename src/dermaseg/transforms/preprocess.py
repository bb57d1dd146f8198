"""Deterministic preprocessing steps for dermoscopic images.

Every function takes RGB uint8 (H, W, 3) at any size and returns RGB uint8 of the same size.
They are plain OpenCV/NumPy so they run the same at training and at inference time, and
each one stays fast on a 24-megapixel dermoscope image: the expensive step (hair removal)
works on a reduced copy and only writes back the pixels it repairs; the others are
per-pixel lookup tables built from image statistics.
"""

from __future__ import annotations

import cv2
import numpy as np

# Hair detection and inpainting run at most at this long side; larger images are shrunk
# for detection and repair, then only the hair pixels are written back at full size.
HAIR_MAX_SIDE = 1024


def _check_rgb(image: np.ndarray, name: str = "image") -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"{name} must be RGB uint8 (H, W, 3), got {dtype} {shape}")


def _luminance(image: np.ndarray) -> np.ndarray:
    """L of CIE Lab as uint8 (0..255): the lightness a dermatologist sees, not raw green."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 0]


def hair_kernel_size(height: int, width: int) -> int:
    """Odd structuring-element side for the black-hat, proportional to the image size.

    Dermoscopic hairs are roughly 0.3-0.8 % of the field of view wide; the element must be
    wider than a hair (so closing fills it) but narrow enough to leave lesion blobs alone.
    """
    side = int(round(0.025 * min(height, width)))
    side = max(5, side)
    return side + 1 if side % 2 == 0 else side


def detect_hair(image: np.ndarray, *, kernel_size: int | None = None, threshold: int = 18,
                min_length: float | None = None) -> np.ndarray:
    """Hair mask (uint8 {0,255}) by DullRazor: black-hat of the luminance, then threshold.

    Thin dark structures (hairs) light up in the black-hat (closing minus image). Short,
    blob-like responses (pigment dots, globules) are dropped by keeping only connected
    components at least `min_length` long, so a hairless image is left almost untouched.
    """
    _check_rgb(image)
    h, w = image.shape[:2]
    k = kernel_size or hair_kernel_size(h, w)
    lum = _luminance(image)
    # Hairs run in every direction: a disc-like element responds to all of them alike.
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    blackhat = cv2.morphologyEx(lum, cv2.MORPH_BLACKHAT, element)
    blackhat = cv2.GaussianBlur(blackhat, (3, 3), 0)  # joins broken hair segments, quiets JPEG noise
    _, mask = cv2.threshold(blackhat, threshold, 255, cv2.THRESH_BINARY)

    min_len = min_length if min_length is not None else 2.0 * k
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count > 1:
        extent = np.hypot(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
        area = stats[1:, cv2.CC_STAT_AREA]
        # A hair is long and thin: long extent, and area small compared with extent squared.
        thin = area <= 0.35 * extent ** 2
        keep = np.concatenate([[False], (extent >= min_len) & thin])
        mask = np.where(keep[labels], 255, 0).astype(np.uint8)
    # A one-pixel margin so inpainting starts from clean skin, not from the hair's halo.
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))


def remove_hair(image: np.ndarray, *, kernel_size: int | None = None, threshold: int = 18,
                inpaint_radius: int | None = None, max_side: int = HAIR_MAX_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """DullRazor-style hair removal: returns (image with hairs inpainted, hair mask {0,255}).

    Images larger than `max_side` are processed on a shrunk copy; the repaired pixels are
    scaled back and pasted only where hair was found, so the rest keeps its full detail.
    """
    _check_rgb(image)
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    work = image if scale == 1.0 else cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                 interpolation=cv2.INTER_AREA)
    mask = detect_hair(work, kernel_size=kernel_size, threshold=threshold)
    if not mask.any():
        return image.copy(), np.zeros((h, w), np.uint8)
    # Telea's cost grows with radius squared; a few pixels beyond a hair's edge is enough.
    radius = inpaint_radius or max(3, hair_kernel_size(*work.shape[:2]) // 4)
    repaired = cv2.inpaint(work, mask, radius, cv2.INPAINT_TELEA)
    if scale == 1.0:
        return repaired, mask
    full_mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    full_repaired = cv2.resize(repaired, (w, h), interpolation=cv2.INTER_LINEAR)
    clean = np.where(full_mask[..., None] > 0, full_repaired, image)
    return clean, full_mask


def shades_of_gray(image: np.ndarray, p: float = 6) -> np.ndarray:
    """Shades of Gray colour constancy (Finlayson & Trezzi 2004), Minkowski norm `p`.

    The illuminant of each channel is its p-norm mean; each channel is scaled so the
    illuminant becomes neutral gray while overall brightness is kept. p=1 is Gray World
    (equal channel means), p=inf is max-RGB; p=6 is the ISIC-winning choice (Barata et al.).
    """
    _check_rgb(image)
    levels = np.arange(256, dtype=np.float64)
    # Per-channel histograms make the p-norm exact and cheap at any image size.
    hists = [cv2.calcHist([image], [c], None, [256], [0, 256]).ravel() for c in range(3)]
    n = float(image.shape[0] * image.shape[1])
    illum = np.array([(np.dot(hist, levels ** p) / n) ** (1.0 / p) for hist in hists])
    if not np.all(illum > 0):
        return image.copy()  # an all-black channel: nothing to estimate from
    gains = illum.mean() / illum
    lut = np.clip(np.round(levels[:, None] * gains[None, :]), 0, 255).astype(np.uint8)  # (256, 3)
    return cv2.LUT(image, lut.reshape(256, 1, 3))


def clahe_lab(image: np.ndarray, *, clip_limit: float = 2.0, tiles: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of L in Lab (colours are kept)."""
    _check_rgb(image)
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles))
    lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def sigmoid_lut(centre: float, gain: float) -> np.ndarray:
    """uint8 lookup table of a sigmoid through `centre` (0..1), rescaled to map 0->0 and 1->1."""
    x = np.arange(256, dtype=np.float64) / 255.0
    s = 1.0 / (1.0 + np.exp(-gain * (x - centre)))
    lo, hi = 1.0 / (1.0 + np.exp(gain * centre)), 1.0 / (1.0 + np.exp(-gain * (1.0 - centre)))
    return np.clip(np.round((s - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def sigmoid_contrast(image: np.ndarray, *, gain: float = 8.0, centre: float | None = None) -> np.ndarray:
    """Adaptive sigmoid contrast stretch of L in Lab.

    The sigmoid is centred on the image's own lesion/skin lightness split (Otsu threshold
    of L) unless `centre` (0..1) is given: the steepest part of the curve then falls
    between lesion and skin, widening that gap whatever the exposure, where a fixed curve
    would clip an under- or over-exposed image.
    """
    _check_rgb(image)
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    lum = np.ascontiguousarray(lab[..., 0])
    if centre is None:
        otsu, _ = cv2.threshold(lum, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        centre = float(otsu) / 255.0
    centre = float(np.clip(centre, 0.1, 0.9))
    lab[..., 0] = cv2.LUT(lum, sigmoid_lut(centre, gain))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
