"""Uploaded bytes -> an image ready for inference, with the checks a public endpoint needs.

The header is read first (PIL's `open` is lazy): the format must be one dermaseg reads and
width x height must stay under the pixel limit, so a decompression bomb (a small file that
declares a huge image) is refused before a single pixel is decoded. Large JPEGs are then
decoded at reduced scale, as `dermaseg.predict.loading.load_for_inference` does for files:
the network sees 192-256 px, and the mask is still returned at the image's full size.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from dermaseg.data.io import to_rgb_uint8
from dermaseg.predict.loading import InferenceImage
from dermaseg.serve.errors import ApiError

# The formats `dermaseg.data.io.IMAGE_SUFFIXES` names (MPO: a camera JPEG with a preview frame).
FORMATS = {"JPEG", "MPO", "PNG", "BMP", "TIFF"}
_EXIF_ORIENTATION = 0x0112


def decode_upload(data: bytes, *, max_pixels: int, min_side: int = 1024) -> InferenceImage:
    """Decode `data`; ApiError 400 (empty), 413 (too many pixels), 415 (not a supported image),
    422 (a supported image that cannot be decoded)."""
    if not data:
        raise ApiError(400, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit decides below
            img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ApiError(415, "not an image, or an image format dermaseg does not read "
                            f"(supported: {', '.join(sorted(FORMATS - {'MPO'}))})") from None
    except Image.DecompressionBombError as exc:
        raise ApiError(413, f"image has too many pixels ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a malformed header
        raise ApiError(422, f"unreadable image header ({exc})") from None
    if img.format not in FORMATS:
        raise ApiError(415, f"unsupported image type {img.format}; "
                            f"supported: {', '.join(sorted(FORMATS - {'MPO'}))}")
    width, height = img.size
    if width < 1 or height < 1:
        raise ApiError(422, f"image declares an empty size {width}x{height}")
    if width * height > max_pixels:
        raise ApiError(413, f"image is {width}x{height} = {width * height / 1e6:.1f} Mpx; "
                            f"the limit is {max_pixels / 1e6:.1f} Mpx")
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
        if img.format in ("JPEG", "MPO") and max(width, height) > 2 * min_side:
            scale = max(width, height) / min_side
            img.draft("RGB", (int(width / scale) + 1, int(height / scale) + 1))
        img.load()  # truncated or corrupt data fails here
        img = ImageOps.exif_transpose(img)
        pixels = to_rgb_uint8(img)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the file's fault
        raise ApiError(422, f"unreadable or truncated {img.format} image ({type(exc).__name__}: {exc})") from None
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return InferenceImage(pixels, (height, width))
