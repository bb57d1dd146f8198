"""Inference without PyTorch: shipped ONNX files, one resolver, ONNX/PyTorch agreement,
measurements at working resolution, the overlay, the sample image, and the one-line message
of a command that needs the training install."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import HAM10000, ISIC2017, REPO, require_shared_data

from dermaseg.core.zoo import DEFAULTS, SHIPPED, resolve
from dermaseg.data.io import read_image, read_mask
from dermaseg.predict.overlay import OVERLAY_MAX_SIDE, overlay
from dermaseg.predict.working import WORK_DECODE_SIDE, WORK_MAX_SIDE, measure_scaled, upscale_mask, working_size

# Held-out ISIC 2017 images of the shipped model's split (never trained on).
HELD_OUT = ["ISIC_0000013", "ISIC_0000014", "ISIC_0000015", "ISIC_0000016", "ISIC_0000022", "ISIC_0000023"]

# Run Python with torch made unimportable: what the inference install sees.
NO_TORCH = "import sys; sys.modules['torch'] = None\n"


def _run_without_torch(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_TORCH + code], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


# --- one table, one resolver, ONNX files with their metadata -----------------------------------

def test_every_shipped_model_has_its_onnx_file_with_metadata():
    import onnxruntime as ort

    from dermaseg.core.modelfile import read_metadata

    for name, entry in SHIPPED.items():
        assert entry.onnx_path.is_file() and entry.onnx_path.stat().st_size < 25 * 2**20
        if entry.is_ensemble:
            continue
        session = ort.InferenceSession(str(entry.onnx_path), providers=["CPUExecutionProvider"])
        meta = read_metadata(session, entry.onnx_path)
        assert meta["task"] == entry.task and meta["name"] == name
        for key in ("classes", "pipeline", "version", "provenance", "held_out"):
            assert meta.get(key), (name, key)
        assert {"training_data", "recipe", "commit", "export_commit"} <= set(meta["provenance"])
        assert meta["pipeline"]["size"] >= 16
        if entry.task == "segmentation":
            assert meta["classes"] == ["lesion"] and 0 < meta["threshold"] < 1
        else:
            assert len(meta["classes"]) >= 2 and meta["model"]["tta_views"] >= 1


def test_shipped_onnx_files_are_exported_from_the_shipped_weights():
    """A shipped .pt replaced without regenerating its ONNX file is caught here."""
    import hashlib

    import onnxruntime as ort

    from dermaseg.core.modelfile import read_metadata

    for name, entry in SHIPPED.items():
        if entry.is_ensemble:
            continue
        meta = read_metadata(ort.InferenceSession(str(entry.onnx_path), providers=["CPUExecutionProvider"]),
                             entry.onnx_path)
        digest = hashlib.sha256(entry.torch_path.read_bytes()).hexdigest()
        assert meta["provenance"].get("source_sha256") == digest, (
            f"{entry.onnx_path.name} was not exported from the current {entry.torch_path.name}: "
            "run `dermaseg export --shipped`")


def test_shipped_ensembles_name_shipped_members_of_their_task_and_carry_figures():
    from dermaseg.classify.predict import read_ensemble_file

    ensembles = [e for e in SHIPPED.values() if e.is_ensemble]
    assert ensembles and DEFAULTS["classification"] in {e.name for e in ensembles}
    for entry in ensembles:
        about = read_ensemble_file(entry.onnx_path)
        assert about["name"] == entry.name and about["members"] == list(entry.members)
        assert all(SHIPPED[m].task == entry.task and not SHIPPED[m].is_ensemble for m in entry.members)
        assert about["info"]["version"] and about["held_out"]["split"] == "test"
        assert 0 < about["held_out"]["balanced_accuracy"] <= 1 and about["held_out"]["n"] > 0
        assert resolve(entry.name, entry.task, prefer="torch").path == resolve(entry.name, entry.task).path


def test_resolver_prefers_onnx_and_names_what_the_cli_accepts(tmp_path):
    seg = resolve(None, "segmentation")
    assert seg.name == DEFAULTS["segmentation"] and seg.path.suffix == ".onnx"
    assert resolve("isic-unet-lite0", "segmentation", prefer="torch").path.suffix == ".pt"
    with pytest.raises(ValueError, match="classification model"):
        resolve("ham10000-lite0", "segmentation")
    with pytest.raises(FileNotFoundError, match="not a shipped segmentation model name"):
        resolve("no-such-model", "segmentation")
    onnx = SHIPPED["isic-unet-lite0"].onnx_path
    assert resolve(str(onnx), "segmentation").name == str(onnx)  # a path prints as the path given


def test_predict_and_classify_print_the_name_given(tmp_path):
    from dermaseg.cli import main

    sample = REPO / "src" / "dermaseg" / "samples" / "ISIC_0000014.jpg"
    assert main(["predict", str(sample), "--model", "isic-unet-lite0", "--out", str(tmp_path / "p")]) == 0
    summary = json.loads((tmp_path / "p" / "measurements.json").read_text())["summary"]
    assert (summary["model"], summary["backend"]) == ("isic-unet-lite0", "onnxruntime")

    from dermaseg.classify.predict import load_classifier

    clf = load_classifier()
    assert (clf.name, clf.backend_name) == (DEFAULTS["classification"], "onnxruntime")


# --- ONNX and PyTorch agree -----------------------------------------------------------------------

def test_onnx_and_pytorch_masks_agree_on_real_images():
    require_shared_data()
    pytest.importorskip("torch")
    from dermaseg.predict.segmenter import Segmenter

    onnx, torch_ = Segmenter(), Segmenter(backend="torch")
    assert (onnx.backend_name, torch_.backend_name) == ("onnxruntime", "pytorch")
    assert onnx.threshold == torch_.threshold and onnx.pipeline == torch_.pipeline
    for image_id in HELD_OUT:
        image = read_image(ISIC2017 / "ISIC-2017_Training_Data" / f"{image_id}.jpg")
        a, b = onnx.segment(image), torch_.segment(image)
        assert a.mask.shape == image.shape[:2]
        assert _iou(a.mask, b.mask) >= 0.99, image_id


def test_onnx_and_pytorch_classifiers_agree_on_real_images():
    require_shared_data()
    pytest.importorskip("torch")
    from dermaseg.classify.predict import load_classifier

    images = [read_image(HAM10000 / "HAM10000_images" / f"ISIC_00243{i:02d}.jpg") for i in (6, 7, 8, 9)]
    onnx, torch_ = load_classifier(), load_classifier(backend="torch")
    assert onnx.class_names == torch_.class_names and onnx.tta_views == torch_.tta_views
    p, q = onnx.predict_proba(images), torch_.predict_proba(images)
    assert np.abs(p - q).max() < 2e-3
    assert (p.argmax(1) == q.argmax(1)).all()


# --- working resolution ------------------------------------------------------------------------

@pytest.mark.parametrize("image_id", ["ISIC_0000013", "ISIC_0000015", "ISIC_0000016"])
def test_measurements_at_working_resolution_match_full_resolution(image_id):
    """A real lesion mask blown up to a 3000x2250 photograph with a smooth border: the figures
    taken at the working resolution and converted agree with those taken at full size within 1 %.

    (Border detail finer than one working pixel, ~3 full-resolution pixels here, is lost at
    the working resolution: a staircase border made by a linear upscale of the 256-px mask
    reads ~1.1 % shorter there.)"""
    require_shared_data()
    from dermaseg.measure import measure_lesions

    full_size = (2250, 3000)
    small = read_mask(ISIC2017 / "ISIC-2017_Training_Part1_GroundTruth" / f"{image_id}_segmentation.png")
    blurred = cv2.GaussianBlur(small.astype(np.float32), (0, 0), 1.5)
    big = cv2.resize(blurred, (full_size[1], full_size[0]), interpolation=cv2.INTER_CUBIC)
    full = np.where(big >= 128, 255, 0).astype(np.uint8)
    image = cv2.resize(read_image(ISIC2017 / "ISIC-2017_Training_Data" / f"{image_id}.jpg"),
                       (full_size[1], full_size[0]), interpolation=cv2.INTER_LINEAR)
    work = working_size(full_size)
    assert max(work) == WORK_MAX_SIDE
    work_mask = cv2.resize(full, (work[1], work[0]), interpolation=cv2.INTER_AREA)
    work_mask = np.where(work_mask >= 128, 255, 0).astype(np.uint8)
    work_image = cv2.resize(image, (work[1], work[0]), interpolation=cv2.INTER_AREA)

    ref = measure_lesions(full, image, mm_per_pixel=0.01)[0]
    got = measure_scaled(work_mask, work_image, full_size, mm_per_pixel=0.01)[0]
    for key in ("area_px", "perimeter_px", "equivalent_diameter_px", "max_feret_diameter_px",
                "major_axis_length_px", "minor_axis_length_px", "area_mm2", "perimeter_mm"):
        assert got[key] == pytest.approx(ref[key], rel=0.01), key
    for key in ("centroid_x", "centroid_y"):
        assert abs(got[key] - ref[key]) < 0.01 * max(full_size), key
    assert abs(got["asymmetry_major"] - ref["asymmetry_major"]) < 0.02
    assert got["colours_present"] == ref["colours_present"]


def test_big_photograph_mask_is_full_size_and_smooth(tmp_path):
    """A 4000x3000 JPEG: mask at its size, overlay at the reduced decode (<= 1600 px, aspect
    kept), measurements in its pixels."""
    require_shared_data()
    from PIL import Image

    from dermaseg.predict.run import predict_files

    image = read_image(ISIC2017 / "ISIC-2017_Training_Data" / "ISIC_0000015.jpg")
    big = cv2.resize(image, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    path = tmp_path / "in" / "big.jpg"
    path.parent.mkdir()
    Image.fromarray(big).save(path, quality=95)
    summary = predict_files([path], tmp_path / "out", quiet=True)
    assert summary["images"] == 1
    mask = read_mask(tmp_path / "out" / "big_segmentation.png")
    assert mask.shape == (3000, 4000) and set(np.unique(mask)) <= {0, 255}
    ov = read_image(tmp_path / "out" / "big_overlay.jpg")
    assert WORK_DECODE_SIDE <= max(ov.shape[:2]) <= OVERLAY_MAX_SIDE
    assert ov.shape[1] * 3 == ov.shape[0] * 4
    entry = json.loads((tmp_path / "out" / "measurements.json").read_text())["images"][0]
    area = entry["lesions"][0]["area_px"]
    assert area == pytest.approx(np.count_nonzero(mask), rel=0.01)


def test_overlay_is_an_outline_that_leaves_the_lesion_colours_alone():
    image = np.full((3000, 4000, 3), (200, 150, 130), np.uint8)
    image[1000:2000, 1500:2500] = (90, 60, 40)
    mask = np.zeros((750, 1000), np.uint8)
    mask[250:500, 375:625] = 255
    out = overlay(image, mask)
    assert out.shape == (1200, 1600, 3)
    inner = out[450:750, 650:950]  # well inside the lesion: untouched
    assert (inner == (90, 60, 40)).all()
    assert (out == (255, 255, 0)).all(axis=2).sum() > 1000  # the outline is drawn


# --- no torch -----------------------------------------------------------------------------------

def test_predict_sample_and_classify_run_without_torch(tmp_path):
    code = (f"from dermaseg.cli import main\n"
            f"rc = main(['predict', '--sample', '--out', {str(tmp_path / 'p')!r}])\n"
            "from dermaseg.samples import sample_image\n"
            f"rc2 = main(['classify', 'predict', str(sample_image()), '--out', {str(tmp_path / 'c')!r}])\n"
            "assert 'onnxruntime' in sys.modules\n"
            "sys.exit(rc or rc2)\n")
    out = _run_without_torch(code, tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "p" / "ISIC_0000014_segmentation.png").is_file()
    assert (tmp_path / "p" / "ISIC_0000014_overlay.jpg").is_file()
    rows = (tmp_path / "p" / "measurements.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("ISIC_0000014,")
    assert "ISIC_0000014," in (tmp_path / "c" / "classification.csv").read_text()


def test_a_training_command_without_torch_says_so_in_one_line(tmp_path):
    out = _run_without_torch("from dermaseg.cli import main\nsys.exit(main(['export', '--shipped']))\n", tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs the training install: pip install 'dermaseg[train]'" in lines[0], out.stderr


def test_mask_png_is_8_bit_single_channel_and_overlay_a_jpeg(tmp_path):
    """The fast encodings keep the ISIC submission format: 8-bit, one channel, values 0 and 255."""
    from PIL import Image

    from dermaseg.predict.encode import encode_png, write_jpeg, write_png

    mask = np.zeros((301, 402), np.uint8)
    cv2.circle(mask, (200, 150), 90, 255, -1)
    write_png(tmp_path / "m.png", mask)
    with Image.open(tmp_path / "m.png") as im:
        assert im.mode == "L" and im.format == "PNG"
        assert np.array_equal(np.asarray(im), mask)
    with Image.open(io.BytesIO(encode_png(mask))) as im:
        assert np.array_equal(np.asarray(im), mask)
    picture = np.full((120, 160, 3), (200, 150, 130), np.uint8)
    write_jpeg(tmp_path / "o.jpg", picture)
    with Image.open(tmp_path / "o.jpg") as im:
        assert im.format == "JPEG" and im.size == (160, 120)
        assert np.abs(np.asarray(im).astype(int) - picture).max() <= 3
