"""ReportBuilder writes every evaluation artifact with the right contents; learning curves plot."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("matplotlib")  # plots and reports: the training install
from dermaseg.segment.metrics import METRIC_NAMES, confusion_counts, image_metrics  # noqa: E402
from dermaseg.segment.plots import (
    PRED_RGB,
    TRUTH_RGB,
    contour_overlay,
    plot_learning_curves,
)
from dermaseg.segment.report import ReportBuilder

ARTIFACTS = ["per_image.csv", "summary.json", "confusion_matrix.png", "dice_histogram.png", "worst_cases.png"]


def disc(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r**2


def synthetic_cases():
    """(id, image, truth, pred) of varied sizes and quality, including degenerate masks."""
    rng = np.random.default_rng(0)
    cases = []
    for i, (h, w, shift) in enumerate([(60, 80, 0), (70, 50, 3), (64, 64, 12), (90, 120, 25),
                                       (40, 40, 6), (50, 75, 40), (80, 60, 1)]):
        image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        truth = disc(h, w, h / 2, w / 2, min(h, w) / 3)
        pred = disc(h, w, h / 2 + shift, w / 2, min(h, w) / 3)
        cases.append((f"ISIC_{i:07d}", image, np.where(truth, 255, 0).astype(np.uint8), pred))
    empty = np.zeros((30, 30), bool)
    cases.append(("both_empty", np.zeros((30, 30, 3), np.uint8), empty, empty))
    cases.append(("missed", None, disc(30, 30, 15, 15, 8), empty))
    return cases


def assert_png(path, min_size=(200, 150)):
    assert path.stat().st_size > 0
    with Image.open(path) as img:
        img.load()
        arr = np.asarray(img.convert("RGB"))
    assert arr.shape[1] >= min_size[0] and arr.shape[0] >= min_size[1]
    assert arr.std() > 0, f"{path.name} is a blank image"
    return arr


def test_report_builder_writes_every_artifact(tmp_path):
    cases = synthetic_cases()
    builder = ReportBuilder(n_worst=3)
    for image_id, image, truth, pred in cases:
        builder.add(image_id, image, truth, pred, diagnosis="nevus")
    summary = builder.finish(tmp_path, extra_summary={"threshold": 0.5, "options": {"tta": "flip"}})

    for name in ARTIFACTS:
        assert (tmp_path / name).is_file(), name

    # per_image.csv: one row per image added, in order, with metrics, sizes and extras.
    with (tmp_path / "per_image.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["image_id"] for r in rows] == [c[0] for c in cases]
    for row, (_, _, truth, pred) in zip(rows, cases):
        expected = image_metrics(truth, pred)
        assert {m: float(row[m]) for m in METRIC_NAMES} == expected  # repr floats round-trip exactly
        assert (int(row["height"]), int(row["width"])) == truth.shape
        assert int(row["truth_area"]) == np.count_nonzero(np.asarray(truth) > 0)
        assert row["diagnosis"] == "nevus"

    # summary.json: the mean of the CSV rows, the image count, the pixel confusion, the extras.
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert on_disk["n_images"] == len(cases)
    for m in METRIC_NAMES:
        assert on_disk[m] == pytest.approx(np.mean([float(r[m]) for r in rows]), abs=1e-12)
        assert on_disk["std"][m] == pytest.approx(np.std([float(r[m]) for r in rows]), abs=1e-12)
        lo, hi = on_disk["ci95"][m]
        values = [float(r[m]) for r in rows]
        assert min(values) <= lo <= on_disk[m] <= hi <= max(values)
    totals = np.sum([confusion_counts(t, p) for _, _, t, p in cases], axis=0)
    assert on_disk["pixel_confusion"] == dict(zip(["tp", "fp", "tn", "fn"], map(int, totals)))
    assert on_disk["threshold"] == 0.5 and on_disk["options"] == {"tta": "flip"}
    assert on_disk["jaccard_threshold"] == 0.65

    # The three lowest-Jaccard images, worst first; both_empty (Jaccard 1) is not among them.
    by_jaccard = sorted(rows, key=lambda r: float(r["jaccard"]))
    worst_ids = [w["image_id"] for w in on_disk["worst_cases"]]
    assert worst_ids == [r["image_id"] for r in by_jaccard[:3]]
    assert "missed" in worst_ids and "both_empty" not in worst_ids

    for name in ARTIFACTS[2:]:
        assert_png(tmp_path / name)


def test_worst_case_thumbnails_show_truth_and_prediction_contours():
    builder = ReportBuilder(n_worst=2, thumb_side=64)
    for image_id, image, truth, pred in synthetic_cases():
        builder.add(image_id, image, truth, pred)
    worst = builder.worst_cases()
    assert len(worst) == 2  # only n_worst thumbnails are kept, whatever the number of images
    assert worst[0].jaccard <= worst[1].jaccard
    for case in worst:
        assert max(case.thumbnail.shape[:2]) <= 64
    # "missed" has a truth lesion and an empty prediction: green contour, no red.
    missed = next(c for c in worst if c.image_id == "missed")
    colours = {tuple(px) for px in missed.thumbnail.reshape(-1, 3)}
    assert TRUTH_RGB in colours and PRED_RGB not in colours


def test_contours_survive_downscaling_of_a_large_image():
    truth = np.zeros((1200, 1600), bool)
    truth[600:606, 800:806] = True  # a 6-pixel lesion, 0.5 px at thumbnail scale
    pred = np.zeros_like(truth)
    pred[100:500, 100:500] = True
    thumb = contour_overlay(np.full((1200, 1600, 3), 128, np.uint8), truth, pred, max_side=256)
    assert thumb.shape == (192, 256, 3)
    red = np.all(thumb == PRED_RGB, axis=2)
    green_ish = (thumb[..., 1] > 150) & (thumb[..., 0] < 100)
    assert green_ish[90:105, 120:140].any(), "small truth lesion vanished from the thumbnail"
    assert red[:, :100].any() and not red[120:, 120:].any()


def test_ties_keep_the_earliest_image_and_zero_worst_is_allowed(tmp_path):
    truth = np.zeros((10, 10), bool)
    truth[2:8, 2:8] = True
    builder = ReportBuilder(n_worst=2)
    for i in range(5):
        builder.add(f"img{i}", None, truth, np.zeros_like(truth))  # all Jaccard 0
    assert [c.image_id for c in builder.worst_cases()] == ["img0", "img1"]

    none_kept = ReportBuilder(n_worst=0)
    none_kept.add("a", None, truth, truth)
    summary = none_kept.finish(tmp_path)
    assert summary["worst_cases"] == [] and summary["dice"] == 1.0
    assert_png(tmp_path / "worst_cases.png", min_size=(50, 50))


def test_report_builder_refuses_bad_input(tmp_path):
    mask = np.zeros((8, 8), bool)
    builder = ReportBuilder()
    builder.add("a", None, mask, mask)
    with pytest.raises(ValueError, match="'a' added twice"):
        builder.add("a", None, mask, mask)
    with pytest.raises(ValueError, match="b: image size"):
        builder.add("b", np.zeros((9, 8, 3), np.uint8), mask, mask)
    with pytest.raises(ValueError, match="shape"):
        builder.add("c", None, mask, np.zeros((8, 9), bool))
    with pytest.raises(ValueError, match="clash"):
        builder.add("d", None, mask, mask, dice=0.3)
    with pytest.raises(ValueError, match="overwrite"):
        builder.finish(tmp_path, extra_summary={"dice": 0.99})
    assert len(builder.rows) == 1  # failed adds leave no partial row behind
    with pytest.raises(ValueError, match="no images"):
        ReportBuilder().finish(tmp_path / "empty")


def test_learning_curves_plot(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    lines = ["epoch,train_loss,valid_loss,accuracy,dice,jaccard,time,lr,train_dice"]
    for e in range(6):
        lines.append(f"{e},{1 / (e + 1)},{1.2 / (e + 1)},{0.8 + e / 50},{0.6 + e / 20},"
                     f"{0.5 + e / 20},{30 * (e + 1)},{1e-3 * 0.5**e},{0.65 + e / 20}")
    csv_path.write_text("\n".join(lines) + "\n")
    out = plot_learning_curves(csv_path, tmp_path / "learning_curves.png")
    arr = assert_png(out, min_size=(900, 250))

    # Lightning CSVLogger layout: train and validation values of an epoch on separate rows.
    split = tmp_path / "lightning" / "metrics.csv"
    split.parent.mkdir()
    split.write_text("epoch,step,train_loss,valid_loss,dice\n0,9,0.9,,\n0,9,,1.0,0.5\n1,19,0.7,,\n1,19,,0.8,0.6\n")
    out2 = plot_learning_curves(split, tmp_path / "lc2.png")
    arr2 = assert_png(out2, min_size=(600, 250))
    assert arr2.shape[1] < arr.shape[1]  # no lr column: two panels instead of three

    with pytest.raises(FileNotFoundError, match="nope.csv"):
        plot_learning_curves(tmp_path / "nope.csv", tmp_path / "x.png")
    bad = tmp_path / "bad.csv"
    bad.write_text("step,foo\n1,2\n")
    with pytest.raises(ValueError, match="bad.csv.*epoch"):
        plot_learning_curves(bad, tmp_path / "x.png")
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("epoch,foo\n0,2\n")
    with pytest.raises(ValueError, match="nothing.csv.*nothing to plot"):
        plot_learning_curves(nothing, tmp_path / "x.png")


def test_one_epoch_table_writer_and_figure_for_both_tasks(tmp_path):
    from dermaseg.training.curves import classification_curves, record_epoch

    table = tmp_path / "history.csv"
    columns = ["epoch", "train_loss", "val_loss", "val_accuracy", "val_balanced_accuracy", "lr"]
    for epoch, bal in ((0, 0.4), (1, 0.5), (2, 0.45)):
        record_epoch(table, {"epoch": epoch, "train_loss": 1 / (epoch + 1), "val_loss": 1.1 / (epoch + 1),
                             "val_accuracy": 0.7, "val_balanced_accuracy": bal, "lr": 1e-3}, columns)
    # a resumed run repeats epoch 1: that row is replaced and the later one dropped, from the file alone
    rows = record_epoch(table, {"epoch": 1, "train_loss": 0.4, "val_loss": 0.5, "val_accuracy": 0.72,
                                "val_balanced_accuracy": 0.6, "lr": 5e-4}, columns)
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert table.read_text().splitlines()[0] == ",".join(columns) and len(table.read_text().splitlines()) == 3
    assert_png(plot_learning_curves(table, tmp_path / "lc.png", classification_curves("balanced_accuracy")),
               min_size=(900, 250))
