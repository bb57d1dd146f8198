"""Decoding image and mask files into the project's array conventions.

Images come back as RGB uint8 (H, W, 3) whatever the file holds (grayscale, RGBA,
16-bit, palette, EXIF-rotated); masks as uint8 (H, W). Every failure raises
ImageReadError naming the file and what is wrong with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Decompression-bomb guard: well above any real dermoscope (6000x4000 = 24 Mpx).
Image.MAX_IMAGE_PIXELS = 200_000_000

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


class ImageReadError(ValueError):
    """A file could not be decoded as an image; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _open(path: Path) -> Image.Image:
    path = Path(path)
    if not path.exists():
        raise ImageReadError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    try:
        img = Image.open(path)
        img.load()  # forces the full decode: truncated files fail here, not later
    except UnidentifiedImageError:
        raise ImageReadError(path, "not a recognised image format") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, f"image too large ({exc})") from None
    except OSError as exc:
        raise ImageReadError(path, f"unreadable or truncated image ({exc})") from None
    return img


def to_rgb_uint8(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to RGB uint8, scaling 16-bit data rather than clipping it."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        arr = (arr - arr.min()) / max(float(np.ptp(arr)), 1e-12) * 255.0
        return np.repeat(arr.astype(np.uint8)[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite on white: a transparent background is not lesion-coloured.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def read_image(path: Path | str, *, exif_transpose: bool = True) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), honouring EXIF orientation."""
    img = _open(Path(path))
    if exif_transpose:
        img = ImageOps.exif_transpose(img)
    arr = to_rgb_uint8(img)
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(path, f"unexpected decoded shape {arr.shape}")
    return np.ascontiguousarray(arr)


def read_mask(path: Path | str) -> np.ndarray:
    """Read a mask file as uint8 (H, W), values as stored (binarise separately)."""
    img = _open(Path(path))
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img)
        return ((arr > 0) * 255).astype(np.uint8)
    if img.mode not in ("L", "1", "P"):
        img = img.convert("L")
    arr = np.asarray(img.convert("L") if img.mode != "L" else img, dtype=np.uint8)
    return np.ascontiguousarray(arr)


def binarise_mask(mask: np.ndarray) -> np.ndarray:
    """Threshold at half range into the {0, 255} convention."""
    return np.where(mask >= 128, 255, 0).astype(np.uint8)


def write_mask(path: Path | str, mask: np.ndarray) -> None:
    """Write a {0,255} single-channel PNG (ISIC submission format)."""
    Image.fromarray(np.asarray(mask, dtype=np.uint8), mode="L").save(path, optimize=False, compress_level=1)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
