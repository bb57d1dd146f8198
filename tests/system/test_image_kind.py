"""`predict` and `classify predict` on a folder mixing dermoscopy, a clinical photograph and an
object photograph (real files of ../shared/data): each row says the image's kind, the object is
listed and not processed (exit 3) unless --accept-any-image, the clinical one carries a warning,
and the dermoscopy rows carry the outline's quality, the prediction set and the triage point."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from support import SHARED_DATA, require_shared_data


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    require_shared_data()
    from dermaseg.data.samples import sample_image

    folder = tmp_path_factory.mktemp("mixed")
    nd = SHARED_DATA / "not_dermoscopy"
    shutil.copy(sample_image(), folder / "lesion.jpg")
    shutil.copy(nd / "clinical_photos_masked" / "images" / "DQ_mel_LMM11.jpg", folder / "clinic.jpg")
    shutil.copy(nd / "imagenet_objects" / "n03345487_fire_engine.jpg", folder / "engine.jpg")
    return folder


def _rows(path):
    with open(path, newline="") as fh:
        return {r["image_id"]: r for r in csv.DictReader(fh)}


def test_predict_refuses_the_object_photo_and_warns_on_the_clinical_one(mixed, tmp_path):
    from dermaseg.cli import main

    out = tmp_path / "seg"
    assert main(["predict", str(mixed), "--out", str(out), "--threads", "2"]) == 3
    rows = _rows(out / "measurements.csv")
    assert {k: r["image_kind"] for k, r in rows.items()} == {"lesion": "dermoscopy", "clinic": "clinical",
                                                               "engine": "other"}
    assert rows["engine"]["lesion_found"] == "" and rows["engine"]["area_px"] == ""
    assert "does not look like a skin-lesion photograph" in rows["engine"]["warnings"]
    assert not (out / "engine_segmentation.png").exists() and not (out / "engine_overlay.jpg").exists()
    assert "clinical photograph" in rows["clinic"]["warnings"] and rows["clinic"]["area_px"]
    assert 0 < float(rows["lesion"]["mask_quality"]) <= 1 and rows["lesion"]["check_outline"] in ("True", "False")
    summary = json.loads((out / "measurements.json").read_text())["summary"]
    assert [e["image_id"] for e in summary["not_done"]] == ["engine"]
    # the same command again goes on: nothing recomputed, the refusal still listed
    assert main(["predict", str(mixed), "--out", str(out), "--threads", "2"]) == 3
    summary = json.loads((out / "measurements.json").read_text())["summary"]
    assert summary["done_before"] == 3 and len(summary["not_done"]) == 1
    # processed anyway when asked, still labelled
    assert main(["predict", str(mixed / "engine.jpg"), "--out", str(tmp_path / "any"), "--accept-any-image"]) == 0
    assert (tmp_path / "any" / "engine_segmentation.png").exists()
    assert _rows(tmp_path / "any" / "measurements.csv")["engine"]["image_kind"] == "other"


def test_classify_predict_gives_kinds_prediction_sets_and_triage(mixed, tmp_path):
    from dermaseg.cli import main

    out = tmp_path / "cls"
    assert main(["classify", "predict", str(mixed), "--out", str(out), "--tta", "1", "--no-lesion-check"]) == 3
    rows = _rows(out / "classification.csv")
    assert rows["engine"]["image_kind"] == "other"
    assert rows["engine"]["predicted"] == rows["engine"]["prob_mel"] == rows["engine"]["triage"] == ""
    lesion = rows["lesion"]
    assert lesion["prediction_set"].split(";")[0] == lesion["predicted"] and lesion["triage"] in ("refer", "routine")
    assert "clinical photograph" in rows["clinic"]["warning"] and rows["clinic"]["triage"] in ("refer", "routine")
    saved = json.loads((out / "classification.json").read_text())
    assert [e["path"] for e in saved["not_done"]] == [str(mixed / "engine.jpg")]
