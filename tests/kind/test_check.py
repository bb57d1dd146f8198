"""The image-kind check: its decision rule on numbers made here, and the shipped check on real
files of each kind from ../shared/data (none of them fitted on: HAM10000 test images, the
masked clinical photographs, object photographs)."""

from __future__ import annotations

import numpy as np
import pytest
from support import HAM10000, SHARED_DATA, require_shared_data

META = {"thresholds": {"dermoscopy": 100.0, "clinical": 80.0},
        "quantiles": {"dermoscopy": list(np.linspace(40, 130, 11)), "clinical": list(np.linspace(30, 110, 11))}}


def test_beyond_both_thresholds_is_other_and_inside_either_is_skin():
    from dermaseg.kind.check import decide

    kinds = decide(np.array([[150.0, 120.0, 0.0],     # far from both: other
                             [90.0, 300.0, -4.0],    # inside dermoscopy, logit says dermoscopy
                             [300.0, 70.0, 3.0],     # inside clinical only, logit says clinical
                             [101.0, 81.0, -1.0]]), META)
    assert [k.kind for k in kinds] == ["other", "dermoscopy", "clinical", "other"]
    assert kinds[1].score == pytest.approx(1 - 1 / (1 + np.exp(4.0)))
    assert 0.5 < kinds[2].score < 1
    # farther than every held-out image of both kinds: as sure as it gets
    assert kinds[0].score == pytest.approx(1.0)
    assert kinds[3].score < kinds[0].score
    assert kinds[0].fields() == {"image_kind": "other", "image_kind_score": 1.0}
    assert "does not look like a skin-lesion photograph" in kinds[0].warning and kinds[1].warning == ""
    assert "clinical photograph" in kinds[2].warning


def test_typicality_reads_the_stored_quantiles():
    from dermaseg.kind.check import typicality

    q = list(np.linspace(0, 100, 101))
    assert typicality(np.array([0.0, 50.0, 99.0, 200.0]), q) == pytest.approx([1.0, 0.5, 0.01, 0.0])


@pytest.fixture(scope="module")
def check():
    from dermaseg.kind import ImageKindCheck

    return ImageKindCheck(threads=2)


def _kinds(check, paths):
    from dermaseg.data.loading import load_for_inference

    return [k.kind for k in check([load_for_inference(p).image for p in paths])]


def test_shipped_check_names_real_images_of_each_kind(check):
    require_shared_data()
    from dermaseg.data.samples import sample_image

    assert check.meta["task"] == "image_kind" and check.size == 160
    derm = sorted((HAM10000 / "HAM10000_images").glob("ISIC_00251*.jpg"))[:12] + [sample_image()]
    clinical = sorted((SHARED_DATA / "not_dermoscopy" / "clinical_photos_masked" / "images").glob("*"))[:12]
    objects = sorted((SHARED_DATA / "not_dermoscopy" / "imagenet_objects").glob("*.jpg"))[::40]
    got = {"dermoscopy": _kinds(check, derm), "clinical": _kinds(check, clinical), "other": _kinds(check, objects)}
    assert got["dermoscopy"].count("dermoscopy") >= len(derm) - 1, got["dermoscopy"]
    assert "other" not in got["clinical"] and got["clinical"].count("clinical") >= len(clinical) // 2, got["clinical"]
    assert got["other"].count("other") >= len(objects) - 1, got["other"]


def test_blank_pictures_are_not_skin(check):
    """Featureless pictures sit near the dermoscopy mean in feature space: the blank guard catches them."""
    blank = [np.full((480, 640, 3), v, np.uint8) for v in (0, 128, 255)] + [np.full((48, 64, 3), (200, 150, 130), np.uint8)]
    rng = np.random.default_rng(0)
    blank.append(np.clip(128 + rng.normal(0, 2, (480, 640, 3)), 0, 255).astype(np.uint8))   # sensor noise only
    kinds = check(blank)
    assert [k.kind for k in kinds] == ["other"] * len(blank)
    assert all(k.score == 1.0 for k in kinds)
