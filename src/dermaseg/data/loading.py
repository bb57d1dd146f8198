"""Fast image decoding for inference.

A dermoscope JPEG can be 6000x4000; the network sees 256x256. libjpeg can decode at 1/2,
1/4 or 1/8 scale for a fraction of the cost (PIL's `draft`), so we decode at the smallest
scale that still leaves `min_side` pixels on the long side, and remember the full size
(after EXIF rotation) so the mask is written at the image's own width and height.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dermaseg.data.io import ImageReadError, _guarded, decode_rgb, open_image  # noqa: F401 - re-exported

_EXIF_ORIENTATION = 0x0112
WORK_DECODE_SIDE = 640   # JPEG draft decoding stops above this long side (dermaseg.segment.working)


@dataclass
class InferenceImage:
    image: np.ndarray               # RGB uint8, possibly reduced
    full_size: tuple[int, int]      # (H, W) of the image as a viewer shows it (EXIF applied)
    path: Path | None = None

    @property
    def reduced(self) -> bool:
        return self.image.shape[:2] != self.full_size


def load_for_inference(path: Path | str, min_side: int = WORK_DECODE_SIDE) -> InferenceImage:
    """Decode through the guarded reader, at reduced scale for big JPEGs; raises ImageReadError."""
    path = Path(path)
    img = open_image(path, reduce_to=min_side)
    width, height = img.info["dermaseg_full_size"]
    with _guarded(path):
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return InferenceImage(decode_rgb(img, path), (height, width), path)


def from_array(image: np.ndarray) -> InferenceImage:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got shape {image.shape} dtype {image.dtype}")
    return InferenceImage(np.ascontiguousarray(image[..., :3]), image.shape[:2])
