"""Classical lesion segmentation baselines: Otsu thresholding and k-means colour clustering.

The pre-deep-learning methods every comparison in this field reports. They run behind the
same interface as a network (`ClassicalBackend`: a prepared batch in, logits out), so
`dermaseg evaluate --model otsu --data DATA` scores them through exactly the path a trained model takes:
same resize, same restore to the image's own size, same post-processing, same metrics.
"""

from __future__ import annotations

import cv2
import numpy as np

WORKING_SIZE = 256   # the same square the shipped network sees
_LOGIT = 10.0        # a hard decision expressed as a logit: sigmoid(+-10) is 1 or 0 to 5 decimals


def _darker_side_gray(image: np.ndarray) -> np.ndarray:
    """Smoothed luminance: lesions are darker than the surrounding skin."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.GaussianBlur(gray, (5, 5), 0)


def select_lesion_component(binary: np.ndarray) -> np.ndarray:
    """Keep the component with the most pixels in the central half of the frame.

    Dermoscopes leave dark vignetted corners that any darkness threshold picks up, and the
    photographer centres the lesion: "largest component" often picks a corner, "not touching
    the border" drops large lesions; central overlap does neither (measured on ISIC 2017).
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros(binary.shape, dtype=np.uint8)
    h, w = binary.shape
    central = np.bincount(labels[h // 4:3 * h // 4, w // 4:3 * w // 4].ravel(), minlength=n)[1:]
    pick = int(np.argmax(central)) if central.max() > 0 else int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == pick + 1).astype(np.uint8) * 255


def otsu_mask(image: np.ndarray) -> np.ndarray:
    """uint8 RGB -> {0,255} mask: Otsu's threshold on smoothed luminance, darker side is lesion."""
    gray = _darker_side_gray(image)
    _, dark = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return select_lesion_component(dark)


def kmeans_mask(image: np.ndarray, k: int = 2, seed: int = 0) -> np.ndarray:
    """uint8 RGB -> {0,255} mask: k-means in CIELAB, the cluster with the lowest lightness is lesion."""
    lab = cv2.cvtColor(cv2.GaussianBlur(image, (5, 5), 0), cv2.COLOR_RGB2LAB)
    pixels = lab.reshape(-1, 3).astype(np.float32)
    cv2.setRNGSeed(seed)  # cv2.kmeans seeds its centres from OpenCV's global RNG
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(pixels, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    lesion = int(np.argmin(centres[:, 0]))
    dark = (labels.reshape(image.shape[:2]) == lesion).astype(np.uint8)
    return select_lesion_component(dark)


METHODS = {
    "otsu": (otsu_mask, "Otsu threshold on smoothed luminance, lesion component kept (classical baseline)"),
    "kmeans": (kmeans_mask, "k-means (k=2) colour clustering in CIELAB, lesion component kept (classical baseline)"),
}


def is_classical(name) -> bool:
    return str(name) in METHODS


class ClassicalBackend:
    """A classical method shaped like a network backend: (B,3,S,S) in [0,1] -> logits (B,1,S,S)."""

    def __init__(self, name: str):
        if name not in METHODS:
            raise ValueError(f"unknown classical method {name!r}; choose {', '.join(METHODS)}")
        self.method = METHODS[name][0]
        self.meta = {
            "model": {"arch": name, "encoder": "none"},
            "pipeline": {"size": WORKING_SIZE, "keep_aspect": False, "normalise": "unit"},
            "threshold": 0.5,
            "info": {"name": name, "version": "classical", "description": METHODS[name][1]},
        }

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        images = np.clip(batch.transpose(0, 2, 3, 1) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        masks = np.stack([self.method(np.ascontiguousarray(im)) for im in images])
        return np.where(masks[:, None] > 0, _LOGIT, -_LOGIT).astype(np.float32)
