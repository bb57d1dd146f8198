"""Fuzzing the readers and the predict loop with damaged copies of real dermoscopy files.

Seeded byte flips, truncations and chunk duplications of real JPEGs and PNG masks: every one
must either decode or raise ImageReadError naming the file; the predict loop must finish
with every file either segmented or listed as skipped.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import HAM10000, ISIC2017
from odd_inputs import disc_network

N_PER_FORMAT = 160  # 320 files in all


def _flip_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for at in rng.integers(0, len(out), int(rng.integers(1, 12))):
        out[at] = int(rng.integers(0, 256))
    return bytes(out)


def _truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(1, len(data)))]


def _duplicate_chunk(data: bytes, rng: np.random.Generator) -> bytes:
    """Repeat a stretch of the file in place (a PNG chunk or JPEG segment read twice)."""
    start = int(rng.integers(0, len(data) - 1))
    end = min(len(data), start + int(rng.integers(1, 4096)))
    return data[:end] + data[start:end] + data[end:]


MUTATIONS = (_flip_bytes, _truncate, _duplicate_chunk)


def _sources(shared: Path) -> list[Path]:
    jpegs = sorted((ISIC2017 / "ISIC-2017_Training_Data").glob("*.jpg"))[:N_PER_FORMAT // 2] + \
        sorted((HAM10000 / "HAM10000_images").glob("*.jpg"))[:N_PER_FORMAT // 2]
    pngs = sorted((ISIC2017 / "ISIC-2017_Training_Part1_GroundTruth").glob("*.png"))[:N_PER_FORMAT // 2] + \
        sorted((HAM10000 / "HAM10000_segmentations_lesion_tschandl").glob("*.png"))[:N_PER_FORMAT // 2]
    return jpegs + pngs


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> list[Path]:
    from conftest import require_shared_data

    require_shared_data()
    folder = tmp_path_factory.mktemp("fuzzed")
    rng = np.random.default_rng(20240514)
    out = []
    for i, src in enumerate(_sources(ISIC2017.parent)):
        mutate = MUTATIONS[i % len(MUTATIONS)]
        path = folder / f"{i:03d}_{mutate.__name__.strip('_')}{src.suffix}"
        path.write_bytes(mutate(src.read_bytes(), rng))
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
    from dermaseg.predict.loading import load_for_inference

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

    pngs = [p for p in fuzzed if p.suffix == ".png"]
    jpegs = [p for p in fuzzed if p.suffix == ".jpg"]
    checks = [check_record(Record(j.stem, j, m)) for j, m in zip(jpegs, pngs)]
    assert len(checks) == len(pngs)
    assert any(p.code in ("unreadable", "unreadable_mask") for c in checks for p in c.problems)


def _check_run(files: list[Path], out: Path, summary: dict) -> None:
    import json

    assert summary["images"] + summary["failed"] == len(files)
    assert summary["failed"] > 0 and summary["images"] > 0
    saved = json.loads((out / "measurements.json").read_text())
    assert {f["path"] for f in saved["summary"]["failures"]} <= {str(p) for p in files}
    assert all("internal error" not in f["error"] for f in saved["summary"]["failures"])
    assert len(list(out.glob("*_segmentation.png"))) == summary["images"]


def test_predict_loop_finishes_over_every_fuzzed_file(fuzzed, tmp_path, monkeypatch):
    from dermaseg.predict.run import predict_files
    from dermaseg.predict.segmenter import Segmenter

    monkeypatch.setattr(Segmenter, "_network", disc_network)  # decoding, masks and measuring stay real
    summary = predict_files(fuzzed, tmp_path / "out", overlay=True, quiet=True)
    _check_run(fuzzed, tmp_path / "out", summary)


def test_predict_loop_with_the_shipped_model(fuzzed, tmp_path):
    from dermaseg.predict.run import predict_files

    subset = fuzzed[::32]  # both formats, every mutation
    summary = predict_files(subset, tmp_path / "out", overlay=False, quiet=True)
    _check_run(subset, tmp_path / "out", summary)
