"""End to end through the `dermaseg` command on real images from ../shared/data: predict,
evaluate, export, train and classify predict, each as a user types it (tiny subsets, one epoch)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from support import HAM10000, ISIC2017, REPO, require_shared_data

SPLIT = REPO / "configs" / "splits" / "isic2017_unet_lite0_split.csv"
ISIC_IMAGES = ISIC2017 / "ISIC-2017_Training_Data"
HAM_IMAGES = HAM10000 / "HAM10000_images"


def _test_ids(n: int) -> list[str]:
    """The first `n` images of the shipped model's held-out test split."""
    with open(SPLIT, newline="") as fh:
        return [r["image_id"] for r in csv.DictReader(fh) if r["split"] == "test"][:n]


def _mask(path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Two held-out ISIC 2017 images, copied to a folder of their own."""
    require_shared_data()
    folder = tmp_path_factory.mktemp("images")
    for image_id in _test_ids(2):
        shutil.copy(ISIC_IMAGES / f"{image_id}.jpg", folder)
    return folder


def test_predict_through_the_installed_command(images, tmp_path):
    command = shutil.which("dermaseg")
    argv = [command] if command else [sys.executable, "-m", "dermaseg.cli"]
    out = tmp_path / "predictions"
    done = subprocess.run([*argv, "predict", str(images), "--out", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(open(out / "measurements.csv")))
    assert sorted(r["image_id"] for r in rows) == sorted(p.stem for p in images.iterdir())
    for source in images.iterdir():
        mask = _mask(out / f"{source.stem}_segmentation.png")
        assert mask.shape == Image.open(source).size[::-1]                  # the image's own size
        assert set(np.unique(mask)) <= {0, 255} and (mask == 255).mean() > 0.02
        assert Image.open(out / f"{source.stem}_overlay.jpg").format == "JPEG"
    assert json.loads((out / "measurements.json").read_text())["summary"]["model"] == "isic-unet-lite0"


def test_evaluate_the_shipped_model_on_held_out_images(tmp_path):
    require_shared_data()
    pytest.importorskip("matplotlib")  # evaluate writes plots and tables: the training install
    from dermaseg.cli import main

    out = tmp_path / "evaluation"
    assert main(["evaluate", "--model", "isic-unet-lite0", "--data", str(ISIC2017), "--split-file", str(SPLIT),
                 "--limit", "3", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    per_image = list(csv.DictReader(open(out / "per_image.csv")))
    assert summary["n_images"] == 3 and [r["image_id"] for r in per_image] == _test_ids(3)
    assert summary["dice"] > 0.7 and 0 <= summary["threshold_jaccard"] <= summary["jaccard"] <= 1
    for image_id in _test_ids(3):
        mask = _mask(out / "masks" / f"{image_id}_segmentation.png")
        assert mask.shape == Image.open(ISIC_IMAGES / f"{image_id}.jpg").size[::-1]


def test_export_writes_an_onnx_file_that_predicts_like_the_shipped_one(images, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from dermaseg.cli import main
    from dermaseg.core.onnxfile import check_task, open_session

    onnx = tmp_path / "exported.onnx"
    assert main(["export", "--model", "isic-unet-lite0", "--out", str(onnx)]) == 0
    _, meta = open_session(onnx)
    check_task(meta, "segmentation", onnx)
    image = next(images.iterdir())
    assert main(["predict", str(image), "--model", str(onnx), "--out", str(tmp_path / "exported")]) == 0
    assert main(["predict", str(image), "--out", str(tmp_path / "shipped")]) == 0
    ours, shipped = (_mask(tmp_path / d / f"{image.stem}_segmentation.png") > 0 for d in ("exported", "shipped"))
    assert (ours & shipped).sum() / max(1, (ours | shipped).sum()) > 0.99


def test_train_one_tiny_epoch_writes_a_model_that_predicts(images, tmp_path, monkeypatch):
    pytest.importorskip("lightning")
    from dermaseg.cli import main

    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), f"data.root={ISIC2017}", "model.encoder_weights=null",
                 "pipeline.size=64", "train.epochs=1", "train.limit_train_images=4", "train.batch_size=2",
                 "train.num_workers=0", "train.accelerator=cpu", "train.precision=32-true",
                 "train.max_time_minutes=null", "train.early_stopping_patience=0"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["epochs_completed"], summary["train_images"]) == (1, 4)
    assert len(list(csv.DictReader(open(run / "metrics.csv")))) == 1
    image = next(images.iterdir())
    assert main(["predict", str(image), "--model", str(run / "model.pt"), "--out", str(tmp_path / "p")]) == 0
    assert _mask(tmp_path / "p" / f"{image.stem}_segmentation.png").shape == Image.open(image).size[::-1]


def test_classify_predict_with_the_shipped_classifier(tmp_path):
    require_shared_data()
    from dermaseg.cli import main

    paths = [HAM_IMAGES / "ISIC_0024306.jpg", HAM_IMAGES / "ISIC_0024307.jpg"]
    out = tmp_path / "classes"
    assert main(["classify", "predict", *map(str, paths), "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "classification.csv")))
    classes = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert [r["image_id"] for r in rows] == [p.stem for p in paths]
    for r in rows:
        probs = [float(r[f"prob_{c}"]) for c in classes]
        assert abs(sum(probs) - 1) < 1e-3 and r["predicted"] == classes[int(np.argmax(probs))]
