"""Uploaded bytes -> an image ready for inference, with HTTP status codes for what is wrong.

The header is read first (PIL's `open` is lazy): the format must be one dermaseg reads (415
otherwise) and the declared width x height must stay under the server's pixel limit (413), so
a decompression bomb (a small file that declares a huge image) is refused before a single
pixel is decoded. The decode itself is the library's guarded one (`dermaseg.data.io.open_image`,
which turns any decoder failure into ImageReadError -> 422), at reduced scale for big JPEGs as
for files (`load_for_inference`): the network sees 192-256 px, and the mask still comes back at
the image's full size.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from dermaseg.data.io import ImageReadError, decode_rgb, open_image
from dermaseg.data.loading import WORK_DECODE_SIDE, InferenceImage
from dermaseg.serve.errors import ApiError

# What `dermaseg.data.io` reads (MPO: a camera JPEG carrying a preview frame).
FORMATS = {"JPEG", "MPO", "PNG", "BMP", "TIFF", "WEBP", "GIF"}
SUPPORTED = "JPEG, PNG, BMP, TIFF, WebP, GIF"
_EXIF_ORIENTATION = 0x0112


def check_header(data: bytes, max_pixels: int) -> tuple[str, int, int]:
    """(format, width, height) from the header alone; ApiError 400/413/415/422 when refused."""
    if not data:
        raise ApiError(400, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own bomb warning: the limit below decides
            img = Image.open(io.BytesIO(data))
            fmt, (width, height) = img.format, img.size
    except UnidentifiedImageError:
        raise ApiError(415, f"not an image, or an image format dermaseg does not read (supported: {SUPPORTED})") \
            from None
    except Image.DecompressionBombError as exc:
        raise ApiError(413, f"image has too many pixels ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a malformed header
        raise ApiError(422, f"unreadable image header ({type(exc).__name__}: {exc})") from None
    if fmt not in FORMATS:
        raise ApiError(415, f"unsupported image type {fmt}; supported: {SUPPORTED}")
    if width < 1 or height < 1:
        raise ApiError(422, f"image declares an empty size {width}x{height}")
    if width * height > max_pixels:
        raise ApiError(413, f"image is {width}x{height} = {width * height / 1e6:.1f} Mpx; "
                            f"the limit is {max_pixels / 1e6:.1f} Mpx")
    return fmt, width, height


def decode_upload(data: bytes, *, max_pixels: int, min_side: int = WORK_DECODE_SIDE, name: str = "upload") -> InferenceImage:
    """Check, then decode `data` (see the module doc); raises ApiError."""
    fmt, _, _ = check_header(data, max_pixels)
    try:
        img = open_image(data, max_pixels=max_pixels, reduce_to=min_side, name=name)
        width, height = img.info["dermaseg_full_size"]
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
        pixels = decode_rgb(img, name)
    except ImageReadError as exc:
        raise ApiError(422, f"unreadable {fmt} image: {exc.reason}") from None
    except Exception as exc:  # noqa: BLE001 - e.g. corrupt EXIF: still the file's fault
        raise ApiError(422, f"unreadable {fmt} image ({type(exc).__name__}: {exc})") from None
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return InferenceImage(pixels, (height, width))
