"""Segmentation-assisted classification: crop the image to the lesion before classifying.

The lesion mask comes from the segmentation model (`dermaseg.segment.segmenter.Segmenter`),
or, for experiments on data that has them, from the ground-truth masks. The crop is the
lesion's bounding box grown by `margin` on each side and made square (the classifier squashes
its input to a square, so a square crop keeps the lesion's shape), clipped to the image.
An image where no lesion is found is classified whole.
"""

from __future__ import annotations

import numpy as np

CROP_MODES = ("none", "segmenter", "ground_truth")


def lesion_box(mask: np.ndarray, margin: float = 0.15) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of a square box around the mask's foreground, or None if empty."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    h, w = mask.shape[:2]
    cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
    side = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) * (1 + 2 * margin)
    side = min(side, max(h, w))
    top = int(round(np.clip(cy - side / 2, 0, max(0, h - side))))
    left = int(round(np.clip(cx - side / 2, 0, max(0, w - side))))
    return top, min(h, int(round(top + side))), left, min(w, int(round(left + side)))


def crop_to_lesion(image: np.ndarray, mask: np.ndarray | None, margin: float = 0.15) -> np.ndarray:
    if mask is None:
        return image
    if mask.shape[:2] != image.shape[:2]:
        raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is {image.shape[1]}x{image.shape[0]}")
    box = lesion_box(mask, margin)
    if box is None:
        return image
    top, bottom, left, right = box
    return np.ascontiguousarray(image[top:bottom, left:right])


class LesionCropper:
    """Callable image (+ ground-truth mask) -> image cropped to the lesion."""

    def __init__(self, mode: str = "segmenter", segmenter_model: str | None = None, margin: float = 0.15):
        if mode not in CROP_MODES or mode == "none":
            raise ValueError(f"crop mode must be 'segmenter' or 'ground_truth', got {mode!r}")
        self.mode = mode
        self.margin = float(margin)
        self.segmenter_model = segmenter_model
        self._segmenter = None

    def _segment(self, image: np.ndarray) -> np.ndarray:
        if self._segmenter is None:
            try:
                from dermaseg.segment.segmenter import Segmenter
            except ImportError as exc:
                raise ValueError(f"segmentation-assisted cropping needs dermaseg.predict ({exc})") from None
            self._segmenter = Segmenter(self.segmenter_model)
        return self._segmenter.segment(image).mask

    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if self.mode == "ground_truth":
            if mask is None:
                raise ValueError("crop: ground_truth needs the image's lesion mask")
            return crop_to_lesion(image, mask, self.margin)
        return crop_to_lesion(image, self._segment(image), self.margin)

    def describe(self) -> dict:
        return {"mode": self.mode, "margin": self.margin, "segmenter": self.segmenter_model}
