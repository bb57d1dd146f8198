"""Image files out: masks as 8-bit PNG, overlays as JPEG, each encoded for speed.

A mask is two flat regions. libpng's default adaptive filtering tries five filters on every
row; no filter and zlib's run-length strategy give a smaller file about 4x faster. The overlay
is a photograph with an outline: JPEG (quality 90) encodes it about 10x faster than PNG, and
the file is 10x smaller. Both are encoded in memory and written by Python, atomically
(dermaseg.core.files): OpenCV never sees the file name, which may be any bytes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dermaseg.core.files import write_bytes

MASK_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE,
            cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
PICTURE_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
OVERLAY_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 90]


def _bgr(array: np.ndarray) -> np.ndarray:
    return array if array.ndim == 2 else cv2.cvtColor(array, cv2.COLOR_RGB2BGR)


def _params(array: np.ndarray) -> list[int]:
    return MASK_PNG if array.ndim == 2 else PICTURE_PNG


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of a mask (H, W) or an RGB picture (H, W, 3)."""
    ok, buf = cv2.imencode(".png", _bgr(array), _params(array))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def write_png(path: Path, array: np.ndarray) -> None:
    """A mask (H, W) or an RGB picture (H, W, 3) as PNG, atomically; OutputError naming the file."""
    write_bytes(path, encode_png(array))


def write_jpeg(path: Path, rgb: np.ndarray) -> None:
    """An RGB picture as JPEG (quality 90), atomically; OutputError naming the file if it fails."""
    ok, buf = cv2.imencode(".jpg", _bgr(rgb), OVERLAY_JPEG)
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    write_bytes(path, buf.tobytes())
