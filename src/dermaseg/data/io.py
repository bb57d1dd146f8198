"""Decoding image and mask files into the project's array conventions.

Every image read in dermaseg goes through one guarded decoder, `open_image`:
- the path is checked first (missing, broken link, a folder, empty file);
- the header's declared width x height is checked against a pixel limit *before* any pixel
  is decoded (a 200 KB PNG can declare 15000x15000, a 1 KB JPEG 60000x60000); JPEGs bigger
  than the caller needs are decoded at 1/2, 1/4 or 1/8 scale (libjpeg's draft mode), never
  below one pixel a side (a 3x60000 strip);
- any exception a decoder raises (Pillow raises OSError, SyntaxError, ValueError,
  struct.error, EOFError, ...) becomes an ImageReadError naming the file;
- warnings a decoder prints (corrupt EXIF, ...) become one ImageWarning line naming the file,
  and so does corrupt data inside a JPEG, which Pillow decodes silently (`jpeg_damage`): such
  an image is processed, with a "damaged JPEG data" warning in its row.

Images come back as RGB uint8 (H, W, 3) whatever the file holds (grayscale, RGBA,
16-bit, palette, EXIF-rotated); masks as uint8 (H, W).
"""

from __future__ import annotations

import errno
import io
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, features

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
if features.check("avif"):
    IMAGE_SUFFIXES.add(".avif")
# Image formats a user may well have (phones, raw cameras, DICOM) that dermaseg does not decode:
# named as skipped, with the fix, rather than passed over as "not an image".
UNSUPPORTED_SUFFIXES = {".heic", ".heif", ".avif", ".jxl", ".dng", ".cr2", ".nef", ".arw", ".dcm", ".svg"} - IMAGE_SUFFIXES

# File signatures of the formats above: a file without (or with a wrong) extension is still
# recognised as an image by its first bytes.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")

# Pixel limit on the header's declared size: a real dermoscope is at most ~24 Mpx (6000x4000);
# 100 Mpx decodes to 300 MB of RGB. Raise it with DERMASEG_MAX_PIXELS or set_max_pixels().
DEFAULT_MAX_PIXELS = 100_000_000
_JPEG_DRAFT_SCALES = (1, 2, 4, 8)


def _limit_from_env() -> int:
    text = os.environ.get("DERMASEG_MAX_PIXELS", "")
    try:
        return int(float(text)) if text else DEFAULT_MAX_PIXELS
    except ValueError:
        return DEFAULT_MAX_PIXELS


MAX_PIXELS = _limit_from_env()


def set_max_pixels(limit: int) -> None:
    """Change the declared-size limit for every later read."""
    global MAX_PIXELS
    MAX_PIXELS = int(limit)
    _sync_pillow_guard()


def _sync_pillow_guard() -> None:
    # Pillow's own bomb check runs inside Image.open, before we can ask for a reduced JPEG
    # decode; ours is the real check, Pillow's stays as a backstop well above it.
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS * 64


_sync_pillow_guard()


class ImageReadError(ValueError):
    """A file could not be decoded as an image; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageWarning(UserWarning):
    """A file was decoded but the decoder complained (corrupt EXIF, ...); message names the file."""


def path_problem(path: Path) -> str | None:
    """Why `path` cannot be an image file, judged without opening it; None if it may be one."""
    if path.is_symlink() and not path.exists():
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"symbolic link loop ({path} -> {os.readlink(path)} leads back to itself)"
        return f"broken symbolic link (points to {os.readlink(path)}, which does not exist)"
    if not path.exists():
        return "file does not exist"
    if path.is_dir():
        return "is a folder, not an image file"
    if not path.is_file():
        return "not a regular file"
    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    return None


def looks_like_image(path: Path) -> bool:
    """True when the file's first bytes are the signature of a format dermaseg reads."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# warnings.catch_warnings swaps process-wide state: two threads (the HTTP server's workers)
# inside it at once could leave every later warning recorded into a dead list. One at a time.
_WARNINGS_LOCK = threading.RLock()


@contextmanager
def _guarded(name: Path) -> Iterator[None]:
    """Turn any decoder exception into ImageReadError and decoder warnings into one ImageWarning each."""
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except ImageReadError:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageReadError(name, f"image too large ({_one_line(exc)})") from None
        except MemoryError:
            raise ImageReadError(name, "not enough memory to decode this image") from None
        except Exception as exc:  # noqa: BLE001 - every decoder failure is the file's fault
            raise ImageReadError(name, _describe(exc, name)) from None
    seen = set()
    for w in caught:
        if issubclass(w.category, Image.DecompressionBombWarning):
            continue  # our own pixel limit decides
        text = _one_line(w.message)
        if text not in seen:
            seen.add(text)
            warnings.warn(f"{name}: {text}", ImageWarning, stacklevel=4)


def unsupported_reason(path: Path) -> str:
    return f"{path.suffix.lower()[1:].upper()} images are not supported; convert to JPEG or PNG"


def _describe(exc: Exception, name: Path) -> str:
    text = _one_line(exc)
    if type(exc).__name__ == "UnidentifiedImageError" or text.startswith("cannot identify image file"):
        if name.suffix.lower() in UNSUPPORTED_SUFFIXES:
            return unsupported_reason(name)
        return "not an image, or an image format dermaseg does not read"
    if "truncated" in text.lower():
        return f"truncated image ({text})"
    return f"corrupt or unreadable image ({type(exc).__name__}: {text})" if text else \
        f"corrupt or unreadable image ({type(exc).__name__})"


def _draft_scale(size: tuple[int, int], max_pixels: int, min_side: int | None) -> int:
    """The largest JPEG scale-down (1, 2, 4, 8) keeping the long side >= min_side, at least
    enough to bring the pixel count under max_pixels."""
    w, h = size
    scale = 1
    if min_side:
        scale = max(s for s in _JPEG_DRAFT_SCALES if max(w, h) // s >= min_side or s == 1)
    while (w // scale) * (h // scale) > max_pixels and scale < _JPEG_DRAFT_SCALES[-1]:
        scale *= 2
    return scale


def open_image(source: Path | str | bytes, *, max_pixels: int | None = None, reduce_to: int | None = None,
               name: str | None = None) -> Image.Image:
    """Open and fully decode an image file (or bytes) through the guard; see the module doc.

    reduce_to: a JPEG may be decoded at 1/2..1/8 scale as long as its long side stays >=
    reduce_to, and further if the pixel limit needs it (None: full size or an error).
    The returned image's `info["dermaseg_full_size"]` holds the declared (W, H).
    """
    label = Path(name) if name else (Path("<bytes>") if isinstance(source, bytes) else Path(source))
    if not isinstance(source, bytes):
        reason = path_problem(Path(source))
        if reason:
            raise ImageReadError(label, reason)
    elif not source:
        raise ImageReadError(label, "empty file (0 bytes)")
    limit = int(max_pixels or MAX_PIXELS)
    with _guarded(label):
        img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        width, height = img.size
        if width < 1 or height < 1:
            raise ImageReadError(label, f"image declares an empty size {width}x{height}")
        # The declared size, whatever scale a JPEG is then decoded at: libjpeg allocates for the
        # whole frame (a progressive file's coefficients, 2 bytes a sample) even at 1/8 scale.
        if width * height > limit:
            raise ImageReadError(label, f"image declares {width}x{height} pixels ({width * height / 1e6:.0f} Mpx), "
                                        f"over the {limit / 1e6:.0f} Mpx limit (DERMASEG_MAX_PIXELS raises it)")
        if reduce_to is not None and img.format in ("JPEG", "MPO"):
            scale = _draft_scale((width, height), limit, reduce_to)
            if scale > 1:  # a side under `scale` pixels would ask for a 0-pixel draft
                img.draft("RGB", (max(1, width // scale), max(1, height // scale)))
        img.load()  # forces the full decode: truncated and corrupt files fail here, not later
        img.info["dermaseg_full_size"] = (width, height)
        if img.format in ("JPEG", "MPO"):
            damage = jpeg_damage(source if isinstance(source, bytes) else Path(source).read_bytes(), (width, height))
            if damage:
                warnings.warn(f"damaged JPEG data ({damage}): the picture may be garbled, check it", UserWarning)
    return img


def jpeg_damage(data: bytes, size: tuple[int, int]) -> str | None:
    """What libjpeg reports about corrupt data in a JPEG (bad Huffman codes, data cut short,
    bytes where none belong), or None. Pillow decodes such files without a word, and a visibly
    garbled picture would be measured as if it were whole; this decodes the entropy-coded data
    once more, strictly, at 1/8 scale in grey (about 5 ms for 6 Mpx)."""
    import simplejpeg

    w, h = size
    try:
        simplejpeg.decode_jpeg(data, colorspace="gray", fastdct=True, strict=True,
                               min_width=max(1, -(-w // 8)), min_height=max(1, -(-h // 8)))
    except ValueError as exc:
        return _one_line(exc)
    return None


def decode_rgb(img: Image.Image, name: Path | str, *, exif_transpose: bool = True) -> np.ndarray:
    """EXIF-rotate and convert a decoded image to RGB uint8, through the guard."""
    with _guarded(Path(name)):
        if exif_transpose:
            img = ImageOps.exif_transpose(img)
        arr = to_rgb_uint8(img)
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(name, f"unexpected decoded shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _open(path: Path) -> Image.Image:
    """Kept for callers of the former name: the guarded, full-size decode."""
    return open_image(path)


def to_rgb_uint8(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to RGB uint8, scaling 16-bit data rather than clipping it."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "I;16N"):
        return _grey16_to_rgb(np.asarray(img))
    if img.mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        arr = (arr - arr.min()) / max(float(np.ptp(arr)), 1e-12) * 255.0
        return np.repeat(arr.astype(np.uint8)[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite on white: a transparent background is not lesion-coloured.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _grey16_to_rgb(arr: np.ndarray, rows: int = 256) -> np.ndarray:
    """16-bit (or int32) grey to RGB uint8, scaled (not clipped) when values exceed 255, a band
    of rows at a time: a 50 Mpx PNG costs its output, not 8 bytes a pixel of float."""
    hi = 65535 if arr.size and int(arr.max()) > 255 else 255
    out = np.empty((*arr.shape, 3), np.uint8)
    for top in range(0, arr.shape[0], rows):
        band = np.clip(arr[top:top + rows].astype(np.int64), 0, hi)
        out[top:top + rows] = ((band * 255 + hi // 2) // hi).astype(np.uint8)[..., None]
    return out


def read_image(path: Path | str, *, exif_transpose: bool = True) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), honouring EXIF orientation."""
    return decode_rgb(open_image(path), path, exif_transpose=exif_transpose)


def read_mask(path: Path | str) -> np.ndarray:
    """Read a mask file as uint8 (H, W), values as stored (binarise separately). A colour mask
    keeps its strongest channel, so a red lesion on black reads as 255, not as its grey 76."""
    img = open_image(path)
    with _guarded(Path(path)):
        if img.mode in ("I;16", "I;16B", "I;16L", "I", "I;16N", "F"):
            arr = np.asarray(img)
            return ((arr > 0) * 255).astype(np.uint8)
        if img.mode in ("L", "1"):
            arr = np.asarray(img.convert("L"), dtype=np.uint8)
        else:
            arr = np.asarray(img.convert("RGB"), dtype=np.uint8).max(axis=2)
    return np.ascontiguousarray(arr)


def is_zero_one_mask(mask: np.ndarray) -> bool:
    """A mask that stores the lesion as 1 (not 255): values 0 and 1 only, some 1s."""
    return mask.size > 0 and int(mask.max()) == 1


# A mask whose largest value is below this is a label map (0/1, 0/1/2, ...), not grey levels.
LABEL_MAP_MAX = 16


def mask_threshold(mask: np.ndarray) -> int:
    """The value from which a mask pixel is lesion: any non-zero label in a label map (largest
    value under LABEL_MAP_MAX: 0/1, 0/1/2), else half the mask's largest value (0/255 -> 128,
    0/100 -> 50; JPEG noise around either level stays on its side). So a mask with any lesion
    pixel never reads as empty, whatever value the lesion was stored as."""
    top = int(mask.max()) if mask.size else 0
    return 1 if top < LABEL_MAP_MAX else (top + 1) // 2


def binarise_mask(mask: np.ndarray) -> np.ndarray:
    """{0, 255} at `mask_threshold`."""
    return np.where(mask >= mask_threshold(mask), 255, 0).astype(np.uint8)


def write_mask(path: Path | str, mask: np.ndarray) -> None:
    """Write a {0,255} single-channel PNG (ISIC submission format)."""
    Image.fromarray(np.asarray(mask, dtype=np.uint8), mode="L").save(path, optimize=False, compress_level=1)


@dataclass
class FolderListing:
    """A folder's image files, and every other entry with the reason it is not one."""

    images: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)   # looked like images, cannot be read
    ignored: list[tuple[Path, str]] = field(default_factory=list)   # not images (notes, CSVs, sub-folders)


def scan_folder(folder: Path | str) -> FolderListing:
    """Sort a folder's entries: images (by extension, or by content when the extension is
    missing or unknown), entries named like images that cannot be (broken links, folders,
    empty files), and the rest."""
    out = FolderListing()
    for p in sorted(Path(folder).iterdir()):
        if p.name.startswith("."):  # .DS_Store, ._IMG_0001.jpg (macOS), .thumbnails: never a photograph
            out.ignored.append((p, "hidden entry (its name starts with a dot)"))
            continue
        named_as_image = p.suffix.lower() in IMAGE_SUFFIXES
        problem = path_problem(p)
        if problem and named_as_image:
            out.skipped.append((p, problem))
        elif problem:
            out.ignored.append((p, "folder (not searched)" if p.is_dir() else problem))
        elif named_as_image or looks_like_image(p):
            out.images.append(p)
        elif p.suffix.lower() in UNSUPPORTED_SUFFIXES:
            out.skipped.append((p, unsupported_reason(p)))
        else:
            out.ignored.append((p, "not an image file"))
    return out


def list_images(folder: Path) -> list[Path]:
    """A folder's image files: by extension or content; entries named like images that are not
    files (broken links, folders) are listed too, so that reading them reports why."""
    listing = scan_folder(folder)
    return sorted(listing.images + [p for p, _ in listing.skipped])
