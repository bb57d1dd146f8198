"""The Segmenter: ONNX and PyTorch agree; working resolution; full-size masks; the overlay."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from support import ISIC2017, require_shared_data

from dermaseg.data.io import read_image, read_mask
from dermaseg.data.loading import WORK_DECODE_SIDE
from dermaseg.segment.overlay import OVERLAY_MAX_SIDE, overlay
from dermaseg.segment.working import WORK_MAX_SIDE, measure_scaled, working_size

# Held-out ISIC 2017 images of the shipped model's split (never trained on).
HELD_OUT = ["ISIC_0000013", "ISIC_0000014", "ISIC_0000015", "ISIC_0000016", "ISIC_0000022", "ISIC_0000023"]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


# --- ONNX and PyTorch agree -----------------------------------------------------------------------

def test_onnx_and_pytorch_masks_agree_on_real_images():
    require_shared_data()
    pytest.importorskip("torch")
    from dermaseg.segment.segmenter import Segmenter

    onnx, torch_ = Segmenter(), Segmenter(backend="torch")
    assert (onnx.backend_name, torch_.backend_name) == ("onnxruntime", "pytorch")
    assert onnx.threshold == torch_.threshold and onnx.pipeline == torch_.pipeline
    for image_id in HELD_OUT:
        image = read_image(ISIC2017 / "ISIC-2017_Training_Data" / f"{image_id}.jpg")
        a, b = onnx.segment(image), torch_.segment(image)
        assert a.mask.shape == image.shape[:2]
        assert _iou(a.mask, b.mask) >= 0.99, image_id


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

    from dermaseg.segment.batch import predict_files

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
