"""Quality problems found in data files, and how they are reported.

A problem has a code (stable, for tests and scripts), the file, and a human reason.
Readers emit DataQualityWarning and skip or repair the file; `strict=True` raises
DataQualityError instead, so a pipeline can refuse dirty data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dermaseg.data.io import mask_threshold

# Codes whose file cannot be used at all (the sample is skipped).
SKIP_CODES = {"unreadable", "size_mismatch", "missing_image", "unreadable_mask"}
# Codes that are repaired (non-binary mask is thresholded) or only reported.
REPORT_CODES = {"non_binary_mask", "zero_one_mask", "empty_mask", "missing_mask", "duplicate", "blurry",
                "underexposed", "overexposed", "too_small", "name_collision", "double_mask", "decoder_warning"}


class DataQualityWarning(UserWarning):
    """A data file has a problem; the message starts with `[code]` and names the file."""


class DataQualityError(ValueError):
    """Raised in strict mode instead of DataQualityWarning."""


@dataclass(frozen=True)
class Problem:
    code: str
    path: Path
    reason: str
    image_id: str = ""

    def __str__(self) -> str:
        return f"[{self.code}] {self.path}: {self.reason}"


def report(problem: Problem, strict: bool = False) -> None:
    if strict:
        raise DataQualityError(str(problem))
    warnings.warn(str(problem), DataQualityWarning, stacklevel=3)


def mask_problems(mask: np.ndarray, image_shape: tuple[int, int], path: Path, image_id: str) -> list[Problem]:
    """Checks a decoded mask against its image."""
    problems = []
    if mask.shape[:2] != tuple(image_shape[:2]):
        problems.append(Problem("size_mismatch", path, f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
                                f"{image_shape[1]}x{image_shape[0]}", image_id))
        return problems
    values = np.unique(mask)
    if values.max() == 1:  # the lesion stored as 1, not 255: a convention, not noise
        problems.append(Problem("zero_one_mask", path, f"mask stores the lesion as 1, not 255 "
                                f"({(mask == 1).mean():.1%} of pixels); read as lesion", image_id))
        return problems
    if not np.isin(values, (0, 255)).all():
        shown = ", ".join(str(v) for v in values[:6]) + (" ..." if len(values) > 6 else "")
        cut = mask_threshold(mask)
        how = ("read as a label map: lesion where not 0" if cut == 1 else
               f"read as lesion from {cut} up, half its largest value")
        problems.append(Problem("non_binary_mask", path, f"mask values are not only 0/255 ({shown}); {how}",
                                image_id))
    if values.max() == 0:
        problems.append(Problem("empty_mask", path, "mask has no lesion pixels", image_id))
    return problems


# Blur and exposure gates. Thresholds are deliberately extreme: they flag images that
# are unusable (out of focus, black, blown out), not the normal spread of dermoscopy.
BLUR_LAPLACIAN_VAR = 4.0
DARK_MEAN = 25.0
BRIGHT_MEAN = 240.0
MIN_SIDE = 32  # px: smaller holds too little to segment, classify or measure


def image_problems(image: np.ndarray, path: Path, image_id: str) -> list[Problem]:
    import cv2

    problems = []
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        problems.append(Problem("too_small", path, f"image is only {w}x{h} px (under {MIN_SIDE} px a side)",
                                image_id))
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    # Measure sharpness on a bounded size so big and small images compare.
    scale = 256.0 / max(gray.shape)
    if scale < 1:  # never below one pixel a side: a 3x60000 strip would ask for 0x256
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    if sharpness < BLUR_LAPLACIAN_VAR:
        problems.append(Problem("blurry", path, f"extreme blur (variance of Laplacian {sharpness:.2f} < "
                                f"{BLUR_LAPLACIAN_VAR})", image_id))
    mean = float(gray.mean())
    if mean < DARK_MEAN:
        problems.append(Problem("underexposed", path, f"extremely dark (mean luminance {mean:.1f} < {DARK_MEAN})",
                                image_id))
    elif mean > BRIGHT_MEAN:
        problems.append(Problem("overexposed", path, f"extremely bright (mean luminance {mean:.1f} > "
                                f"{BRIGHT_MEAN})", image_id))
    return problems
