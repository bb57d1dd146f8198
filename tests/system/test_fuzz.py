"""Fuzzing the readers and the predict loop with damaged copies of real dermoscopy files.

Seeded byte flips, truncations and chunk duplications of real JPEGs and PNG masks: every one
must either decode or raise ImageReadError naming the file; the predict loop must finish
with every file either segmented or listed as skipped.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from odd_inputs import disc_network
from support import HAM10000, ISIC2017

N_PER_KIND = 110  # JPEG photos, PNG photos, PNG masks: 330 files in all


def _flip_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for at in rng.integers(0, len(out), int(rng.integers(1, 12))):
        out[at] = int(rng.integers(0, 256))
    return bytes(out)


def _truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(1, len(data)))]


def _chunks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each PNG chunk or JPEG marker segment, as far as the file parses."""
    spans = []
    if data.startswith(b"\x89PNG"):
        at = 8
        while at + 12 <= len(data):
            end = at + 12 + struct.unpack(">I", data[at:at + 4])[0]
            spans.append((at, min(end, len(data))))
            at = end
    elif data.startswith(b"\xff\xd8"):
        at = 2
        while at + 4 <= len(data) and data[at] == 0xFF and data[at + 1] not in (0xDA, 0xD9):
            end = at + 2 + struct.unpack(">H", data[at + 2:at + 4])[0]
            spans.append((at, min(end, len(data))))
            at = end
    return spans


def _duplicate_chunk(data: bytes, rng: np.random.Generator) -> bytes:
    """Repeat one PNG chunk or JPEG segment in place (or, when none parses, a stretch of bytes)."""
    spans = _chunks(data)
    if spans:
        start, end = spans[int(rng.integers(0, len(spans)))]
    else:
        start = int(rng.integers(0, len(data) - 1))
        end = min(len(data), start + int(rng.integers(1, 4096)))
    return data[:end] + data[start:end] + data[end:]


def _garble_chunk_header(data: bytes, rng: np.random.Generator) -> bytes:
    """Overwrite a byte of a chunk's length or type (the damage Pillow reports as SyntaxError)."""
    spans = _chunks(data)
    if not spans:
        return _flip_bytes(data, rng)
    start, _ = spans[int(rng.integers(0, len(spans)))]
    out = bytearray(data)
    out[start + int(rng.integers(0, min(8, len(data) - start)))] = int(rng.integers(0, 256))
    return bytes(out)


MUTATIONS = (_flip_bytes, _truncate, _duplicate_chunk, _garble_chunk_header)


def _sources() -> list[tuple[str, bytes]]:
    """(suffix, bytes): real JPEGs, the same photos as PNG (several IDAT chunks each), real masks."""
    import io

    from PIL import Image

    isic = sorted((ISIC2017 / "ISIC-2017_Training_Data").glob("*.jpg"))
    ham = sorted((HAM10000 / "HAM10000_images").glob("*.jpg"))
    masks = sorted((ISIC2017 / "ISIC-2017_Training_Part1_GroundTruth").glob("*.png"))[:N_PER_KIND // 2] + \
        sorted((HAM10000 / "HAM10000_segmentations_lesion_tschandl").glob("*.png"))[:N_PER_KIND // 2]
    out = [(".jpg", p.read_bytes()) for p in isic[:N_PER_KIND // 2] + ham[:N_PER_KIND // 2]]
    for p in isic[N_PER_KIND // 2:N_PER_KIND + N_PER_KIND // 2]:
        buf = io.BytesIO()
        Image.open(p).save(buf, "PNG", compress_level=1)
        out.append((".png", buf.getvalue()))
    return out + [(".png", p.read_bytes()) for p in masks]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> list[Path]:
    from support import require_shared_data

    require_shared_data()
    folder = tmp_path_factory.mktemp("fuzzed")
    rng = np.random.default_rng(20240514)
    out = []
    for i, (suffix, data) in enumerate(_sources()):
        mutate = MUTATIONS[i % len(MUTATIONS)]
        path = folder / f"{i:03d}_{mutate.__name__.strip('_')}{suffix}"
        path.write_bytes(mutate(data, rng))
        out.append(path)
    return out


def test_fuzz_set_is_large_and_damaging(fuzzed):
    from dermaseg.data.io import ImageReadError, read_image

    assert len(fuzzed) >= 300
    failures = 0
    for path in fuzzed[::10]:
        try:
            read_image(path)
        except ImageReadError:
            failures += 1
    assert failures >= 3  # the mutations do break files, so the test below tests something


def test_readers_raise_only_image_read_errors(fuzzed):
    from dermaseg.data.io import ImageReadError, ImageWarning, read_image, read_mask
    from dermaseg.data.loading import load_for_inference

    outcomes = {"decoded": 0, "refused": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImageWarning)
        for path in fuzzed:
            for read in (read_image, read_mask, load_for_inference):
                try:
                    read(path)
                    outcomes["decoded"] += 1
                except ImageReadError as exc:
                    assert str(path) in str(exc) and "\n" not in str(exc)
                    outcomes["refused"] += 1
    assert outcomes["decoded"] > 0 and outcomes["refused"] > 0


def test_inspect_survives_the_fuzz_set(fuzzed):
    from dermaseg.data.inspect import check_record
    from dermaseg.data.readers import Record

    images, masks = fuzzed[:2 * N_PER_KIND], fuzzed[2 * N_PER_KIND:]  # photos (JPEG, PNG), then masks
    checks = [check_record(Record(image.stem, image, mask)) for image, mask in zip(images, masks * 2)]
    assert len(checks) == len(images)
    assert any(p.code in ("unreadable", "unreadable_mask") for c in checks for p in c.problems)


def _check_run(files: list[Path], out: Path, summary: dict) -> None:
    import json

    assert summary["images"] + summary["failed"] == len(files)
    assert summary["failed"] > 0 and summary["images"] > 0
    saved = json.loads((out / "measurements.json").read_text())
    assert {f["path"] for f in saved["summary"]["failures"]} <= {str(p) for p in files}
    assert all("internal error" not in f["error"] for f in saved["summary"]["failures"])
    # a garbled picture may no longer look like a skin-lesion photograph: listed, not segmented
    assert {e["path"] for e in summary["not_done"]} <= {str(p) for p in files}
    assert len(list(out.glob("*_segmentation.png"))) == summary["images"] - len(summary["not_done"])


def test_predict_loop_finishes_over_every_fuzzed_file(fuzzed, tmp_path, monkeypatch):
    from dermaseg.segment.batch import predict_files
    from dermaseg.segment.segmenter import Segmenter

    monkeypatch.setattr(Segmenter, "_network", disc_network)  # decoding, masks and measuring stay real
    summary = predict_files(fuzzed, tmp_path / "out", overlay=True, quiet=True)
    _check_run(fuzzed, tmp_path / "out", summary)


def test_predict_loop_with_the_shipped_model(fuzzed, tmp_path):
    from dermaseg.segment.batch import predict_files

    subset = fuzzed[::32]  # both formats, every mutation
    summary = predict_files(subset, tmp_path / "out", overlay=False, quiet=True)
    _check_run(subset, tmp_path / "out", summary)
