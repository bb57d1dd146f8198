"""Readers: the real layouts in ../shared/data and generated ISIC 2016/2018, PH2 and folder trees."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image
from support import HAM10000, ISIC2017, lesion_image, save_pair

from dermaseg.data import DataQualityError, DataQualityWarning, open_dataset
from dermaseg.data.inspect import inspect_dataset


def test_isic2017_real(shared_data):
    ds = open_dataset(ISIC2017)
    assert len(ds) == 2000 and ds.layouts == {"isic2017": 2000}
    dx = [r.diagnosis for r in ds.records]
    assert dx.count("melanoma") == 374 and dx.count("seborrheic_keratosis") == 254
    s = ds[0]
    assert s.image.dtype == np.uint8 and s.image.shape == (256, 256, 3)
    assert s.mask.shape == (256, 256) and set(np.unique(s.mask)) <= {0, 255}
    assert s.image_id == "ISIC_0000000" and s.path.name == "ISIC_0000000.jpg"
    assert s.labels["sex"] == "female" and s.labels["age"] == 55


def test_ham10000_real(shared_data):
    ds = open_dataset(HAM10000)
    assert len(ds) == 10015 and ds.layouts == {"ham10000": 10015}
    # The data README says 7471 lesions; the CSV holds 7470 distinct lesion_ids (7471 counts its header).
    assert len({r.group for r in ds.records}) == 7470
    counts = {}
    for r in ds.records:
        counts[r.diagnosis] = counts.get(r.diagnosis, 0) + 1
    assert counts == {"nv": 6705, "mel": 1113, "bkl": 1099, "bcc": 514, "akiec": 327, "vasc": 142, "df": 115}
    s = ds[0]
    assert s.image.shape == (150, 200, 3) and s.mask.shape == (150, 200)
    assert s.labels["lesion_id"].startswith("HAM_") and s.labels["localization"]


def test_parent_folder_opens_every_layout_beneath_it(shared_data):
    ds = open_dataset(shared_data)
    # not_dermoscopy/clinical_photos_masked is a plain images + masks folder: opened too
    assert ds.layouts == {"ham10000": 10015, "isic2017": 2000, "folder": 137}


def test_isic2018_generated(tmp_path):
    root = tmp_path / "isic2018"
    for i in range(3):
        save_pair(root / "ISIC2018_Task1-2_Training_Input" / f"ISIC_00000{i}.jpg",
                  root / "ISIC2018_Task1_Training_GroundTruth" / f"ISIC_00000{i}_segmentation.png", seed=i)
    save_pair(root / "ISIC2018_Task1-2_Validation_Input" / "ISIC_0001000.jpg", None)
    (root / "ISIC2018_Task1-2_Training_Input" / "ATTRIBUTION.txt").write_text("not an image")
    ds = open_dataset(tmp_path)
    assert len(ds) == 4 and ds.layouts == {"isic2018": 4}
    splits = {r.image_id: r.labels["official_split"] for r in ds.records}
    assert splits["ISIC_0001000"] == "val" and splits["ISIC_000000"] == "train"
    sample = ds.load(ds.record("ISIC_000001"))
    assert sample.mask is not None and sample.mask.shape == sample.image.shape[:2]
    assert ds.load(ds.record("ISIC_0001000")).mask is None


def test_isic2016_generated(tmp_path):
    root = tmp_path
    save_pair(root / "ISBI2016_ISIC_Part1_Training_Data" / "ISIC_0000000.jpg",
              root / "ISBI2016_ISIC_Part1_Training_GroundTruth" / "ISIC_0000000_Segmentation.png")
    (root / "ISBI2016_ISIC_Part3_Training_GroundTruth.csv").write_text("ISIC_0000000,malignant\n")
    ds = open_dataset(root)
    assert ds.layouts == {"isic2016": 1}
    assert ds.records[0].mask_path.name == "ISIC_0000000_Segmentation.png"
    assert ds.records[0].diagnosis == "malignant"


PH2_TABLE = """\
||   Name   || Histological Diagnosis || Common Nevus || Atypical Nevus || Melanoma || Asymmetry ||
|| IMD003 ||                        ||      X       ||                ||          ||     0     ||
|| IMD009 ||                        ||              ||       X        ||          ||     1     ||
|| IMD058 ||   Melanoma in situ     ||              ||                ||    X     ||     2     ||
"""


def test_ph2_generated(tmp_path):
    root = tmp_path / "PH2Dataset"
    for cid in ("IMD003", "IMD009", "IMD058"):
        case = root / "PH2 Dataset images" / cid
        save_pair(case / f"{cid}_Dermoscopic_Image" / f"{cid}.bmp", case / f"{cid}_lesion" / f"{cid}_lesion.bmp")
    (root / "PH2_dataset.txt").write_text(PH2_TABLE)
    ds = open_dataset(tmp_path)
    assert ds.layouts == {"ph2": 3}
    dx = {r.image_id: r.diagnosis for r in ds.records}
    assert dx == {"IMD003": "common_nevus", "IMD009": "atypical_nevus", "IMD058": "melanoma"}
    s = ds.load(ds.record("IMD058"))
    assert s.image.shape == (96, 128, 3) and set(np.unique(s.mask)) == {0, 255}
    assert s.labels["histological_diagnosis"] == "Melanoma in situ"


def test_plain_folder_pair(tmp_path):
    save_pair(tmp_path / "images" / "a.jpg", tmp_path / "masks" / "a.png")
    save_pair(tmp_path / "images" / "b.png", tmp_path / "masks" / "b_segmentation.png")
    ds = open_dataset(tmp_path)
    assert sorted(r.image_id for r in ds.records) == ["a", "b"]
    assert all(r.mask_path is not None for r in ds.records)


def test_no_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no dermoscopy data"):
        open_dataset(tmp_path)


# --- quality control: each bad input gives its named warning --------------------------------


@pytest.fixture
def dirty_folder(tmp_path):
    img, mask = save_pair(tmp_path / "images" / "good.jpg", tmp_path / "masks" / "good.png", seed=1)
    (tmp_path / "images" / "empty.jpg").write_bytes(b"")
    (tmp_path / "images" / "text.jpg").write_text("this is not a jpeg")
    save_pair(tmp_path / "images" / "truncated.jpg", None, seed=2)
    data = (tmp_path / "images" / "truncated.jpg").read_bytes()
    (tmp_path / "images" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    save_pair(tmp_path / "images" / "mismatch.png", None, seed=3)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "masks" / "mismatch.png")
    save_pair(tmp_path / "images" / "nonbinary.png", None, seed=4)
    Image.fromarray(np.where(mask > 0, 200, 3).astype(np.uint8)).save(tmp_path / "masks" / "nonbinary.png")
    save_pair(tmp_path / "images" / "nolesion.png", None, seed=5)
    Image.fromarray(np.zeros(mask.shape, np.uint8)).save(tmp_path / "masks" / "nolesion.png")
    Image.open(tmp_path / "images" / "good.jpg").save(tmp_path / "images" / "copy.png")  # same decoded pixels
    Image.fromarray(mask).save(tmp_path / "masks" / "copy.png")
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(tmp_path / "images" / "blurry.png")
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(tmp_path / "masks" / "blurry.png")
    dark = (np.random.default_rng(0).integers(0, 20, (64, 64, 3))).astype(np.uint8)
    Image.fromarray(dark).save(tmp_path / "images" / "dark.png")
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(tmp_path / "masks" / "dark.png")
    bright = (255 - np.random.default_rng(0).integers(0, 10, (64, 64, 3))).astype(np.uint8)
    Image.fromarray(bright).save(tmp_path / "images" / "bright.png")
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(tmp_path / "masks" / "bright.png")
    return tmp_path


def test_inspect_names_every_problem(dirty_folder):
    report = inspect_dataset(open_dataset(dirty_folder), workers=1)
    found = {(p.code, p.image_id) for p in report.problems}
    expected = {("unreadable", "empty"), ("unreadable", "text"), ("unreadable", "truncated"),
                ("size_mismatch", "mismatch"), ("non_binary_mask", "nonbinary"), ("empty_mask", "nolesion"),
                ("duplicate", "good"), ("blurry", "blurry"), ("underexposed", "dark"), ("overexposed", "bright"),
                ("missing_mask", "empty")}
    # "copy" and "good" hold the same pixels: exactly one of them is named the duplicate.
    dup = {p.image_id for p in report.problems if p.code == "duplicate"}
    assert len(dup) == 1 and dup <= {"copy", "good"}
    expected = {e for e in expected if e[0] != "duplicate"}
    assert expected <= found, expected - found
    assert all(str(p.path) in str(p) for p in report.problems)  # every message names its file
    assert not any(p.image_id == "good" and p.code != "duplicate" for p in report.problems)


def test_reader_skips_bad_files_with_warnings(dirty_folder):
    ds = open_dataset(dirty_folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples = {s.image_id: s for s in ds}
    messages = [str(w.message) for w in caught if issubclass(w.category, DataQualityWarning)]
    assert "good" in samples and "nonbinary" in samples and "nolesion" in samples
    for bad in ("empty", "text", "truncated", "mismatch"):
        assert bad not in samples
        assert any(f"{bad}." in m and "skipped" in m for m in messages), (bad, messages)
    assert any(m.startswith("[size_mismatch]") and "mismatch.png" in m for m in messages)
    assert any(m.startswith("[non_binary_mask]") for m in messages)
    assert set(np.unique(samples["nonbinary"].mask)) == {0, 255}


def test_strict_mode_fails(dirty_folder):
    ds = open_dataset(dirty_folder, strict=True)
    with pytest.raises(DataQualityError, match="empty"):
        list(ds)


@pytest.mark.parametrize("encoding", ["value_100", "red_rgb", "labels_0_1_2", "zero_one", "jpeg_noise"])
def test_common_mask_encodings_read_as_the_lesion_never_as_empty(tmp_path, encoding):
    """Lesion value 100, red-on-black RGB and 0/1/2 label maps were thresholded at 128 into empty
    masks and trained on as lesion-free."""
    image, mask = lesion_image(96, 128, seed=1)
    inside = mask > 0
    stored = {"value_100": np.where(inside, 100, 0).astype(np.uint8),
              "red_rgb": np.dstack([mask, np.zeros_like(mask), np.zeros_like(mask)]),
              "labels_0_1_2": np.where(inside, 1, 0).astype(np.uint8),
              "zero_one": inside.astype(np.uint8),
              "jpeg_noise": np.clip(np.where(inside, 250, 4) + np.random.default_rng(0).integers(-3, 4, mask.shape),
                                    0, 255).astype(np.uint8)}[encoding]
    if encoding == "labels_0_1_2":
        stored[:, :4] = 2                        # a second label beside the lesion: read as lesion, and said so
    for folder in ("images", "masks"):
        (tmp_path / folder).mkdir()
    Image.fromarray(image).save(tmp_path / "images" / "a.png")
    Image.fromarray(stored).save(tmp_path / "masks" / "a.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sample = open_dataset(tmp_path).load(open_dataset(tmp_path).record("a"))
    got = sample.mask > 0
    expected = inside | (stored == 2) if encoding == "labels_0_1_2" else inside
    assert (got == expected).mean() > 0.999 and got.any()
    messages = " ".join(str(w.message) for w in caught)
    assert "empty_mask" not in messages
    if encoding in ("value_100", "labels_0_1_2"):
        assert "[non_binary_mask]" in messages and ("label map" in messages or "from 50 up" in messages)
