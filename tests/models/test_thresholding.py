"""Classical baselines (Otsu, k-means) behind the model interface, scored like any model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import ISIC2017, REPO, lesion_image, require_shared_data

from dermaseg.cli import main
from dermaseg.models.thresholding import (
    ClassicalBackend,
    kmeans_mask,
    otsu_mask,
    select_lesion_component,
)
from dermaseg.segment.metrics import image_metrics
from dermaseg.segment.segmenter import Segmenter

SPLIT = REPO / "configs" / "splits" / "isic2017_unet_lite0_split.csv"


def _vignetted_lesion():
    """A lesion in the middle and a dark dermoscope corner that touches the border."""
    image, mask = lesion_image(120, 160, seed=3)
    yy, xx = np.mgrid[0:120, 0:160]
    corner = (yy + xx) < 40
    image[corner] = (30, 25, 25)
    return image, mask


@pytest.mark.parametrize("method", [otsu_mask, kmeans_mask])
def test_finds_the_central_lesion_not_the_dark_corner(method):
    image, truth = _vignetted_lesion()
    pred = method(image)
    assert pred.dtype == np.uint8 and set(np.unique(pred)) <= {0, 255}
    assert image_metrics(truth, pred)["jaccard"] > 0.9
    assert not pred[:10, :10].any()


def test_component_choice_falls_back_to_largest_off_centre():
    binary = np.zeros((100, 100), np.uint8)
    binary[0:10, 0:10] = 1      # small, off centre
    binary[80:100, 70:100] = 1  # larger, off centre
    picked = select_lesion_component(binary)
    assert picked[90, 90] == 255 and picked[5, 5] == 0
    assert not select_lesion_component(np.zeros((8, 8), np.uint8)).any()


def test_kmeans_is_deterministic():
    image, _ = lesion_image(64, 64, seed=1)
    assert np.array_equal(kmeans_mask(image), kmeans_mask(image))


def test_segmenter_runs_a_classical_method_at_the_image_size():
    image, truth = lesion_image(150, 200, seed=2)
    seg = Segmenter("otsu")
    result = seg.segment(image)
    assert seg.backend_name == "classical" and isinstance(seg.backend, ClassicalBackend)
    assert result.mask.shape == (150, 200) and result.lesion_found
    assert image_metrics(truth, result.mask)["dice"] > 0.9


def test_evaluate_otsu_on_real_images(tmp_path):
    require_shared_data()
    pytest.importorskip("matplotlib")  # evaluate writes plots and tables: the training install
    out = tmp_path / "otsu"
    code = main(["evaluate", "--model", "otsu", "--data", str(ISIC2017), "--split-file", str(SPLIT), "--limit", "12",
                 "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_images"] == 12
    assert 0.4 < summary["dice"] < 0.95  # a real, imperfect baseline
    assert (out / "per_image.csv").is_file() and len(list((out / "masks").glob("*_segmentation.png"))) == 12


def test_evaluate_options_ensemble_and_exclusion(tmp_path):
    """Each option row carries its cost; an ensemble is recorded; training images are never scored."""
    require_shared_data()
    pytest.importorskip("matplotlib")  # evaluate writes plots and tables: the training install
    from dermaseg.data.splits import read_split
    from dermaseg.segment.evaluate import evaluate

    mapping = read_split(SPLIT)
    summary = evaluate("otsu", ISIC2017, tmp_path / "ens", split=None, split_file=SPLIT, exclude=SPLIT,
                       ensemble="kmeans", compare=True, limit=5)
    assert summary["ensemble_with"] == "kmeans" and summary["n_images"] == 5
    scored = (tmp_path / "ens" / "per_image.csv").read_text().splitlines()[1:]
    assert all(mapping[line.split(",")[0]] == "test" for line in scored)
    variants = {row["variant"]: row for row in summary["options_compared"]}
    assert {"plain", "tta", "postprocess", "tta+postprocess"} <= set(variants)
    assert all(row["ms_per_image"] > 0 for row in variants.values())
    assert variants["tta"]["ms_per_image"] > variants["plain"]["ms_per_image"]  # four views cost more than one
