"""A corpus of odd inputs a new user meets, each with what dermaseg must do with it.

`build_corpus(folder)` writes the files and returns {name: expectation}: "ok" (segmented),
"ignored" (not an image, listed as such), or a fragment of the reason it is skipped.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from support import lesion_image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 15000, height: int = 15000) -> bytes:
    """A small, valid-looking RGB PNG whose header declares width x height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 8, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def _encode(array: np.ndarray, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt, **kwargs)
    return buf.getvalue()


def _broken_chunk_png(png: bytes) -> bytes:
    """Split the pixel data over two IDAT chunks and garble the second one's type: Pillow's
    load() raises SyntaxError('broken PNG file (chunk ...)'), not an OSError."""
    at = png.index(b"IDAT") - 4
    length = struct.unpack(">I", png[at:at + 4])[0]
    data = png[at + 8:at + 8 + length]
    half = len(data) // 2
    rest = png[at + 12 + length:]
    return png[:at] + _chunk(b"IDAT", data[:half]) + _chunk(b"I\x00AT", data[half:]) + rest


def _corrupt_exif_jpeg(image: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 1
    data = bytearray(_encode(image, "JPEG", exif=exif.tobytes()))
    at = data.index(b"Exif\x00\x00") + 6
    data[at + 4:at + 8] = b"\xff\xff\xff\x7f"  # first IFD offset points far past the end
    return bytes(data)


def _rotated_jpeg(image: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    return _encode(image, "JPEG", exif=exif.tobytes())


def disc_network(self, batch: np.ndarray) -> np.ndarray:
    """A stand-in for Segmenter._network: a centred disc, so that tests of decoding and of the
    predict loop do not pay for the network (masks, overlays and measurements stay real work)."""
    size = batch.shape[-1]
    yy, xx = np.mgrid[0:size, 0:size]
    disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 4) ** 2).astype(np.float32)
    return np.repeat(disc[None], len(batch), axis=0)


def build_corpus(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    image, mask = lesion_image(96, 128, seed=3)
    jpeg, png = _encode(image, "JPEG"), _encode(image, "PNG")
    files: dict[str, bytes] = {
        "plain.jpg": jpeg,
        "empty.jpg": b"",
        "text.jpg": b"this is not a jpeg\n",
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "truncated.png": png[: len(png) // 2],
        "header_only.jpg": jpeg[:200],
        "broken_chunk.png": _broken_chunk_png(png),
        "bomb.png": bomb_png(),
        "no_extension": jpeg,
        "wrong_extension.png": jpeg,
        "photo.webp": _encode(image, "WEBP"),
        "animated.gif": _encode(image, "GIF"),
        "grey16.png": _encode((image[..., 0].astype(np.uint16) * 257), "PNG"),
        "rgba.png": _encode(np.dstack([image, np.full(image.shape[:2], 128, np.uint8)]), "PNG"),
        "cmyk.jpg": _cmyk_jpeg(image),
        "one_pixel.png": _encode(image[:1, :1], "PNG"),
        "black.jpg": _encode(np.zeros_like(image), "JPEG"),
        "rotated_exif.jpg": _rotated_jpeg(image),
        "corrupt_exif.jpg": _corrupt_exif_jpeg(image),
        "float.tif": _encode(image[..., 0].astype(np.float32) / 255, "TIFF"),
        "palette.png": _palette_png(image),
        "sliver.png": _encode(np.full((3, 2000, 3), 120, np.uint8), "PNG"),
        "bitmap.bmp": _encode(image, "BMP"),
        "grey.jpg": _encode(image[..., 1], "JPEG"),
        "fake.heic": b"\x00\x00\x00\x18ftypheic" + bytes(64),
        "notes.txt": b"patient notes\n",
        "mask_like.png": _encode(mask, "PNG"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "folder.jpg").mkdir()
    os.symlink(folder / "gone.jpg", folder / "dangling.jpg")
    expect = {
        "plain.jpg": "ok", "no_extension": "ok", "wrong_extension.png": "ok", "photo.webp": "ok",
        "animated.gif": "ok", "grey16.png": "ok", "rgba.png": "ok", "cmyk.jpg": "ok", "one_pixel.png": "ok",
        "black.jpg": "ok", "rotated_exif.jpg": "ok", "corrupt_exif.jpg": "ok", "float.tif": "ok",
        "palette.png": "ok", "sliver.png": "ok", "bitmap.bmp": "ok", "grey.jpg": "ok", "mask_like.png": "ok",
        "empty.jpg": "empty file", "text.jpg": "not an image", "truncated.jpg": "truncated",
        "truncated.png": "truncated", "header_only.jpg": "truncated", "broken_chunk.png": "corrupt",
        "bomb.png": "over the 100 Mpx limit", "folder.jpg": "is a folder", "dangling.jpg": "broken symbolic link",
        "fake.heic": "not supported", "notes.txt": "ignored",
    }
    return expect


def _cmyk_jpeg(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).convert("CMYK").save(buf, "JPEG")
    return buf.getvalue()


def _palette_png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(image).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    img.info["transparency"] = 0
    img.save(buf, "PNG", transparency=0)
    return buf.getvalue()


def jpeg_declaring(width: int, height: int, progressive: bool = False) -> bytes:
    """A valid 16x16 JPEG (~0.6 KB) whose frame header declares width x height."""
    data = bytearray(_encode(np.full((16, 16, 3), 128, np.uint8), "JPEG", progressive=progressive))
    frame = data.index(b"\xff\xc2" if progressive else b"\xff\xc0")
    struct.pack_into(">HH", data, frame + 5, height, width)
    return bytes(data)
