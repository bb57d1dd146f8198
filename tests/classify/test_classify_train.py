"""A tiny classification run writes every artifact; joint sources; whole-network runs resume."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
from PIL import Image
from support import tiny_overrides

# --- a tiny run writes every artifact ------------------------------------------------------------

COLOURS = {"mel": (60, 30, 20), "nv": (150, 100, 70), "bkl": (200, 170, 120)}


ARTIFACTS = ["config.yaml", "environment.json", "split.csv", "history.csv", "learning_curves.png", "model.pt",
             "metrics.json", "predictions.csv", "confusion_matrix.png", "summary.json"]


@pytest.mark.parametrize("stages,sampling_method,select", [("1", "oversample", "balanced_accuracy"),
                                                            ("all", "weighted_sampler", "accuracy_balanced_mean")])
def test_tiny_two_epoch_run_writes_every_artifact(tiny_data, tmp_path, stages, sampling_method, select):
    from dermaseg.classify.config import load_config
    from dermaseg.classify.predict import Classifier
    from dermaseg.classify.train import train_classifier

    config = load_config(None, tiny_overrides(tiny_data, tmp_path / "cache", stages)
                         + [f"train.sampling={sampling_method}", f"train.select={select}"])
    run = tmp_path / "run"
    summary = train_classifier(config, run)
    for name in ARTIFACTS:
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    history = list(csv.DictReader(open(run / "history.csv")))
    assert [int(r["epoch"]) for r in history] == [0, 1]
    for r in history:
        assert float(r["val_accuracy_balanced_mean"]) == pytest.approx(
            (float(r["val_accuracy"]) + float(r["val_balanced_accuracy"])) / 2)
    # the kept epoch is the first best on the chosen validation figure
    scores = [float(r[f"val_{select}"]) for r in history]
    assert summary["best_epoch"] == scores.index(max(scores))
    split = dict(csv.reader(open(run / "split.csv")))
    lesions = {}
    for image_id, part in split.items():
        if image_id != "image_id":
            lesions.setdefault(image_id.rsplit("_", 1)[0], set()).add(part)
    assert all(len(parts) == 1 for parts in lesions.values())     # grouped by lesion
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["test"]["per_class"]) == {"bkl", "mel", "nv"}
    preds = list(csv.DictReader(open(run / "predictions.csv")))
    assert len(preds) == summary["n_test"] == metrics["test"]["n"]
    assert {"image_id", "true", "predicted", "prob_bkl", "prob_mel", "prob_nv"} <= set(preds[0])
    probs = np.array([[float(r[f"prob_{c}"]) for c in ("bkl", "mel", "nv")] for r in preds])
    assert np.allclose(probs.sum(1), 1, atol=1e-4)
    # the model file alone reproduces the run's test probabilities from the raw images
    clf = Classifier(run / "model.pt")
    images = [np.asarray(Image.open(tiny_data / "images" / f"{r['image_id']}.png")) for r in preds]
    assert np.allclose(clf.predict_proba(images), probs, atol=2e-3)


def test_joint_run_trains_on_two_sources_and_reports_each(tiny_data, tmp_path):
    from dermaseg.classify.config import load_config
    from dermaseg.classify.evaluate import evaluate_classifier
    from dermaseg.classify.splits import classification_split
    from dermaseg.classify.train import train_classifier
    from dermaseg.data import open_dataset

    other = tmp_path / "other"
    (other / "images").mkdir(parents=True)
    names = {"mel": "melanoma", "nv": "nevus", "bkl": "seborrheic_keratosis"}
    rows = []
    for dx, colour in COLOURS.items():
        for k in range(6):
            img = np.full((40, 40, 3), (225, 190, 170), np.uint8)
            img[10:30, 10:30] = colour
            Image.fromarray(img).save(other / "images" / f"o_{dx}_{k}.png")
            rows.append(f"o_{dx}_{k},{names[dx]}")
    (other / "labels.csv").write_text("image_id,dx\n" + "\n".join(rows) + "\n")
    overrides = tiny_overrides(tiny_data, tmp_path / "cache") + [f"data.joint=[{other}]"]
    with pytest.raises(ValueError, match=r"diagnosis '\w+' is not one of .* data.class_map"):
        train_classifier(load_config(None, overrides), tmp_path / "unmapped")
    config = load_config(None, overrides + ["data.class_map={melanoma: mel, nevus: nv, seborrheic_keratosis: bkl}"])
    summary = train_classifier(config, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    by_source = metrics["test_by_source"]
    assert set(by_source) == {str(tiny_data), str(other)}
    assert sum(v["n"] for v in by_source.values()) == summary["n_test"]
    split = dict(csv.reader(open(tmp_path / "run" / "split.csv")))
    alone = classification_split(open_dataset(other).records, "80:20", seed=0, val_fraction=0.25)
    assert {k: v for k, v in split.items() if k.startswith("o_")} == alone    # split as if on its own
    # scoring every image of a collection the model trained on says so
    report = evaluate_classifier(tmp_path / "run" / "model.pt", other, tmp_path / "all", split="all", tta_views=1)
    trained = sum(1 for v in alone.values() if v != "test")
    assert report["warning"].startswith(f"{trained} of these 18 images were in the model's training")
    assert evaluate_classifier(tmp_path / "run" / "model.pt", other, tmp_path / "held", tta_views=1)["warning"] is None


def whole_network_config(root: Path, cache: Path, epochs: int, *extra: str) -> dict:
    from dermaseg.classify.config import load_config

    # fp32 for determinism: the same numbers whether or not this CPU runs bf16; one thread keeps
    # these small runs quick on a busy machine
    return load_config(None, tiny_overrides(root, cache, "all")
                       + [f"train.epochs={epochs}", "train.precision=32-true", "train.tta_views=1", "train.threads=1",
                          *extra])


def history_rows(run: Path) -> list[dict]:
    return list(csv.DictReader(open(run / "history.csv")))


def test_interrupted_whole_network_run_resumes_where_it_stopped(tiny_data, tmp_path, monkeypatch, one_thread):
    from dermaseg.classify import module as M
    from dermaseg.classify.train import train_classifier

    config = whole_network_config(tiny_data, tmp_path / "cache", 2)
    straight = train_classifier(config, tmp_path / "straight")
    assert straight["precision"] == "32-true" and straight["resumed_from"] is None

    run = tmp_path / "run"
    start_epoch = M.ClassifierModule.on_train_epoch_start

    def stop_at_second_epoch(self):
        if self.current_epoch == 1:
            raise RuntimeError("power cut")
        return start_epoch(self)

    monkeypatch.setattr(M.ClassifierModule, "on_train_epoch_start", stop_at_second_epoch)
    with pytest.raises(RuntimeError, match="power cut"):
        train_classifier(config, run)
    assert (run / "checkpoints" / "last.ckpt").is_file() and not (run / "summary.json").exists()
    first_session = history_rows(run)
    assert [r["epoch"] for r in first_session] == ["0"]

    monkeypatch.undo()
    summary = train_classifier(config, run)
    assert summary["resumed_from"] == str(run / "checkpoints" / "last.ckpt")
    rows = history_rows(run)
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert rows[0] == first_session[0]          # epoch 0 was not trained again
    # the same run as without the interruption: sampler, RNG and schedule went on unchanged
    assert summary["best_epoch"] == straight["best_epoch"]
    for a, b in zip(rows, history_rows(tmp_path / "straight")):
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-5)
        assert float(a["lr"]) == pytest.approx(float(b["lr"]))
    probs = [np.loadtxt(r / "predictions.csv", delimiter=",", skiprows=1, usecols=(3, 4, 5))
             for r in (run, tmp_path / "straight")]
    assert np.allclose(probs[0], probs[1], atol=1e-5)


def test_raising_epochs_continues_a_finished_whole_network_run(tiny_data, tmp_path, one_thread):

    from dermaseg.classify.train import train_classifier

    run = tmp_path / "run"
    train_classifier(whole_network_config(tiny_data, tmp_path / "cache", 1), run)
    first = history_rows(run)
    summary = train_classifier(whole_network_config(tiny_data, tmp_path / "cache", 3), run)
    rows = history_rows(run)
    assert [r["epoch"] for r in rows] == ["0", "1", "2"] and rows[0] == first[0]
    assert summary["epochs_run"] == 3 and summary["resumed_from"]
    scores = [float(r["val_balanced_accuracy"]) for r in rows]
    assert summary["best_epoch"] == int(np.argmax(scores))      # chosen over both sessions
    assert json.loads((run / "metrics.json").read_text())["best_epoch"] == summary["best_epoch"]
    assert all(float(r["images_per_second"]) > 0 for r in rows)
    # the cosine schedule is stretched to 3 epochs: the rows' rates follow the 3-epoch curve
    lr, eta_min = 0.003, 0.003 * 0.01
    for e in (1, 2):
        expected = eta_min + (lr - eta_min) * (1 + math.cos(math.pi * (e + 1) / 3)) / 2
        assert float(rows[e]["lr"]) == pytest.approx(expected, rel=1e-6)
    # anything but the training budget is another run
    with pytest.raises(ValueError, match="different config"):
        train_classifier(whole_network_config(tiny_data, tmp_path / "cache", 3, "train.lr=0.001"), run)
