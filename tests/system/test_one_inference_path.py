"""`dermaseg evaluate` scores exactly the masks `dermaseg predict` writes: on real full-resolution
JPEGs (not_dermoscopy/clinical_photos_masked, 1640x1043 or portrait, small lesions: the second look applies),
each image's Jaccard index from evaluate's per_image.csv equals the one computed from predict's
mask file against the same truth."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from PIL import Image
from support import SHARED_DATA, require_shared_data

IMAGES = ("DQ_mel_LMM11", "DQ_mel_LMM13", "DQ_mel_LMM2", "DQ_nonmel_D1")


def test_evaluate_scores_the_masks_predict_writes(tmp_path):
    require_shared_data()
    from dermaseg.cli import main
    from dermaseg.segment.metrics import image_metrics

    source = SHARED_DATA / "not_dermoscopy" / "clinical_photos_masked"
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    for name in IMAGES:
        image = next((source / "images").glob(f"{name}.*"))
        shutil.copy(image, data / "images" / image.name)
        shutil.copy(source / "masks" / f"{name}_segmentation.png", data / "masks" / f"{name}_segmentation.png")
    assert main(["predict", str(data / "images"), "--out", str(tmp_path / "pred"), "--no-overlay"]) == 0
    assert main(["evaluate", "--model", "isic-unet-lite0", "--data", str(data), "--split", "all",
                 "--out", str(tmp_path / "eval")]) == 0
    with open(tmp_path / "eval" / "per_image.csv", newline="") as fh:
        scored = {r["image_id"]: float(r["jaccard"]) for r in csv.DictReader(fh)}
    assert set(scored) == set(IMAGES)
    zoomed = 0
    for name in IMAGES:
        truth = np.asarray(Image.open(data / "masks" / f"{name}_segmentation.png")) > 127
        mask = np.asarray(Image.open(tmp_path / "pred" / f"{name}_segmentation.png")) > 127
        assert mask.shape == truth.shape and max(mask.shape) >= 1600   # the photograph's own size
        assert image_metrics(truth, mask)["jaccard"] == pytest.approx(scored[name], abs=1e-9), name
        evaluated = np.asarray(Image.open(tmp_path / "eval" / "masks" / f"{name}_segmentation.png")) > 127
        assert np.array_equal(mask, evaluated), name
        zoomed += truth.mean() < 0.1
    assert zoomed >= 2   # small lesions among them: the second look is part of what is compared
