"""Classical classification baselines: hand-crafted features and the scikit-learn pipeline."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from support import lesion_image

from dermaseg.classify.classical import (
    cache_folder,
    class_scores,
    make_estimator,
    run_classical,
)
from dermaseg.classify.config import load_config
from dermaseg.classify.handcrafted import FEATURE_NAMES, feature_groups, lesion_features


def test_features_are_deterministic_on_a_fixed_image():
    image, mask = lesion_image(150, 200, seed=1)
    a = lesion_features(image, mask)
    b = lesion_features(image.copy(), mask.copy())
    assert a.shape == (len(FEATURE_NAMES),)
    assert np.isfinite(a).all()
    assert np.array_equal(a, b)                       # bit for bit
    groups = feature_groups()
    assert sorted(i for g in groups.values() for i in g) == list(range(len(FEATURE_NAMES)))


def test_features_describe_the_lesion():
    image, mask = lesion_image(150, 200, seed=1)
    f = dict(zip(FEATURE_NAMES, lesion_features(image, mask)))
    assert f["abcd_lesion_found"] == 1.0
    assert f["abcd_area_fraction"] == pytest.approx((mask > 0).mean(), rel=0.02)
    assert f["moment_rgb_R_mean"] == pytest.approx(110, abs=2)           # the lesion's colour, not the skin's
    assert f["moment_contrast_lab_L"] < -50                                # darker than the skin around it
    assert sum(f[f"hist_hsv_V_{b}"] for b in range(16)) == pytest.approx(1.0)
    # no lesion found: the whole image is described and the ABCD part says so
    empty = dict(zip(FEATURE_NAMES, lesion_features(image, np.zeros_like(mask))))
    assert empty["abcd_lesion_found"] == 0.0 and empty["abcd_area_fraction"] == 0.0


def test_features_reject_mismatched_mask():
    image, mask = lesion_image(150, 200)
    with pytest.raises(ValueError, match="must match"):
        lesion_features(image, mask[:100])


def test_estimators_score_every_class_even_one_missing_from_training():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = np.repeat([0, 2], 30)                         # class 1 absent from the training data
    X[y == 2] += 2
    for name in ("svm", "knn", "rf"):
        est = make_estimator(name).fit(X, y)
        scores = class_scores(est, X, 3)
        assert scores.shape == (60, 3) and (scores[:, 1] == 0).all()
        assert np.array_equal(scores.argmax(1), est.predict(X))


def _tiny_ham(root, n_lesions=24):
    """A HAM10000-shaped tree: two classes told apart by colour, some lesions photographed twice."""
    rows = []
    for k in range(n_lesions):
        dx = "mel" if k % 2 else "nv"
        for shot in range(1 + (k % 3 == 0)):
            image_id = f"ISIC_{9000000 + 10 * k + shot}"
            image, mask = lesion_image(150, 200, seed=100 * k + shot, radius=30 + (k % 4) * 5)
            if dx == "mel":
                image[mask > 0] = np.clip(image[mask > 0].astype(int) - (40, 30, 0), 0, 255).astype(np.uint8)
            (root / "HAM10000_images").mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / "HAM10000_images" / f"{image_id}.jpg", quality=95)
            rows.append({"lesion_id": f"HAM_{k:07d}", "image_id": image_id, "dx": dx, "dx_type": "histo",
                         "age": "50", "sex": "male", "localization": "back"})
    with open(root / "HAM10000_metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def test_classical_pipeline_trains_predicts_and_caches(tmp_path):
    n = _tiny_ham(tmp_path / "ham")
    config = load_config(None, [f"data.root={tmp_path / 'ham'}", f"data.cache_dir={tmp_path / 'cache'}"])
    out = tmp_path / "out"
    df = run_classical(config, out, segmenter="otsu", progress=False)
    assert set(df["estimator"]) == {"svm", "knn", "rf"}
    assert (df["n_train"] + df["n_test"] == n).all()
    assert (df["accuracy"] >= 0.8).all()                  # colour separates the two classes
    for name in ("results.csv", "results.md", "metrics.json", "predictions_rf_all.csv"):
        assert (out / name).is_file()
    run = json.loads((out / "metrics.json").read_text())["run"]
    assert run["n_test"] == df["n_test"].iloc[0] and run["feature_s_per_image"] > 0
    # test images are the split's test part: no lesion on both sides
    split_ids = {r["image_id"] for r in csv.DictReader(open(out / "predictions_rf_all.csv"))}
    meta = list(csv.DictReader(open(tmp_path / "ham" / "HAM10000_metadata.csv")))
    test_lesions = {m["lesion_id"] for m in meta if m["image_id"] in split_ids}
    assert all(m["image_id"] in split_ids for m in meta if m["lesion_id"] in test_lesions)
    # one cache file per image; a re-run reads them instead of recomputing
    folder = next((tmp_path / "cache" / "handcrafted").iterdir())
    files = sorted(folder.glob("*.npz"))
    assert len(files) == n
    stamps = [f.stat().st_mtime_ns for f in files]
    again = run_classical(config, tmp_path / "out2", segmenter="otsu", estimators=["rf"],
                          feature_sets=["abcd", "colour"], progress=False)
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert list(again["features"]) == ["abcd", "colour"]
    assert df.loc[df["estimator"] == "rf", "accuracy"].iloc[0] >= 0.8


def test_cache_key_follows_segmenter_and_size(tmp_path):
    a = cache_folder(tmp_path, "isic-unet-lite0", "0.1.0", 200)
    assert a == cache_folder(tmp_path, "isic-unet-lite0", "0.1.0", 200)
    assert a != cache_folder(tmp_path, "isic-unet-lite0", "0.1.0", 128)
    assert a != cache_folder(tmp_path, "otsu", "0.1.0", 200)


def test_unknown_estimator_is_refused(tmp_path):
    config = load_config(None, [f"data.root={tmp_path}"])
    with pytest.raises(ValueError, match="unknown estimator 'svc'"):
        run_classical(config, tmp_path / "out", estimators=["svc"])


# --- cross-dataset melanoma ROC ------------------------------------------------------------------

def test_roc_summary_matches_sklearn_and_brackets_the_auc():
    from sklearn.metrics import roc_auc_score

    from dermaseg.classify.roc import roc_summary

    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.2
    score = rng.normal(size=300) + 1.2 * y
    s = roc_summary(y, score, bootstrap=200)
    assert s["auc"] == pytest.approx(roc_auc_score(y, score))
    assert s["auc_ci95"][0] < s["auc"] < s["auc_ci95"][1]
    assert s["melanomas"] == int(y.sum()) and s["curve"]["fpr"][0] == 0 and s["curve"]["tpr"][-1] == 1
    with pytest.raises(ValueError, match="needs melanomas and non-melanomas"):
        roc_summary(np.zeros(5, bool), np.arange(5.0))


def test_roc_command_overlays_curves_and_names_a_bad_file(tmp_path):
    from dermaseg.classify.roc import roc_summary
    from dermaseg.cli import main

    rng = np.random.default_rng(1)
    paths = []
    for k, gap in enumerate((0.5, 1.5)):
        y = rng.random(200) < 0.3
        path = tmp_path / f"run{k}" / "roc_melanoma.json"
        path.parent.mkdir()
        path.write_text(json.dumps(roc_summary(y, rng.normal(size=200) + gap * y, bootstrap=50)))
        paths.append(str(path))
    out = tmp_path / "both.png"
    assert main(["classify", "roc", *paths, "--labels", "held-out,external", "--out", str(out)]) == 0
    assert out.stat().st_size > 5000
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="bad.json: not a ROC summary"):
        from dermaseg.classify.roc import read_summary
        read_summary(bad)


def test_shipped_classifier_on_a_few_isic2017_images_draws_the_roc(shared_data, tmp_path):
    """The cross-dataset check on eight ISIC 2017 images: melanoma AUC in the JSON and the figure."""
    pytest.importorskip("onnxruntime")
    from sklearn.metrics import roc_auc_score

    from dermaseg.cli import main

    ids = ["ISIC_0000000", "ISIC_0000001", "ISIC_0000002", "ISIC_0000003", "ISIC_0000004", "ISIC_0000006",
           "ISIC_0000013", "ISIC_0000022"]
    split = tmp_path / "split.csv"
    split.write_text("image_id,split\n" + "".join(f"{i},test\n" for i in ids))
    out = tmp_path / "eval"
    assert main(["classify", "evaluate", "--data", str(shared_data / "isic2017"), "--split-file", str(split),
                 "--task", "melanoma", "--tta", "1", "--out", str(out)]) == 0
    roc = json.loads((out / "roc_melanoma.json").read_text())
    report = json.loads((out / "metrics.json").read_text())
    assert (out / "roc_melanoma.png").stat().st_size > 5000
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert len(rows) == len(ids) == roc["n"]
    truth = [r["true"] == "melanoma" for r in rows]
    assert roc["melanomas"] == sum(truth) >= 2
    assert roc["auc"] == pytest.approx(roc_auc_score(truth, [float(r["prob_melanoma"]) for r in rows]), abs=1e-5)
    assert report["melanoma_auc"] == roc["auc"]
