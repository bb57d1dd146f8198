"""`dermaseg study`: every classical and deep row of the shipped study runs on a tiny budget
and writes every artifact (run folder, model, test scores, results table, curves)."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from support import REPO, require_shared_data

from dermaseg.cli import main
from dermaseg.segment.config import load_config
from dermaseg.segment.study import load_study, slug

STUDY = REPO / "configs" / "studies" / "isic2017_architectures.yaml"
TINY = ["train.epochs=1", "pipeline.size=64", "train.limit_train_images=8", "data.extra_train=[]",
        "train.num_workers=0", "train.max_time_minutes=null", "train.early_stopping_patience=0"]


def test_study_file_is_checked_before_any_training(tmp_path):
    spec = load_study(STUDY)
    assert {r["name"] for r in spec["rows"]} >= {"Otsu threshold", "U-Net / Lite0 ImageNet", "FCN / ResNet-18 scratch"}
    bad = yaml.safe_load(STUDY.read_text())
    bad["base"] = str(REPO / "configs" / "isic2017_unet_lite0.yaml")
    bad["rows"].append({"name": "typo", "overrides": ["model.arcch=unet"]})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError, match="arcch"):
        load_study(path)


def test_recipe_study_changes_one_thing_per_row():
    """Every row of the recipe study builds, and none is a silent copy of another (a misspelt
    augmentation key, say, that changed nothing)."""
    spec = load_study(REPO / "configs" / "studies" / "isic2017_recipe.yaml")
    configs = [yaml.safe_dump(spec["configs"][r["name"]], sort_keys=True) for r in spec["rows"]]
    assert len(set(configs)) == len(configs) == len(spec["rows"]) >= 12
    reference = spec["configs"][spec["rows"][0]["name"]]
    assert (reference["train"]["epochs"], reference["pipeline"]["size"]) == (10, 192)
    assert {c["train"]["loss"] for c in spec["configs"].values()} >= {"bce+dice", "lovasz", "focal"}


@pytest.mark.parametrize("bad,message", [
    ("model.arcch=unet", r"unknown config key 'model.arcch'"),                 # a misspelt key
    ("train.batch_size=8.5", r"train.batch_size must be an integer, got 8.5"),  # a wrong type
    ("train.channels_last=yes please", r"train.channels_last must be true or false"),
    ("train.optimizer=adamm", r"train.optimizer must be one of adam, adamw, sgd"),  # outside the choices
    ("train.scheduler=cosin", r"train.scheduler must be null or one of cosine"),
    ("train.loss=bce+dise", r"train.loss must be one of"),
    ("train.precision=bf16", r"train.precision must be null or one of"),
    ("model.arch=unett", r"model: unknown architecture 'unett'"),
    ("pipeline.size=8", r"pipeline: size must be an integer >= 16"),
])
def test_recipe_errors_name_the_key_on_load(bad, message):
    with pytest.raises(ValueError, match=message):
        load_config(REPO / "configs" / "isic2017_unet_lite0.yaml", [bad])


def test_a_run_folder_written_before_a_key_existed_is_the_same_run():
    from dermaseg.core.config import complete
    from dermaseg.segment.config import SCHEMA

    config = load_config(REPO / "configs" / "isic2017_unet_lite0.yaml")
    stored = yaml.safe_load(yaml.safe_dump(config))
    del stored["train"]["adamw_weight_decay"]
    assert complete(stored, SCHEMA) == config
    stored["train"]["lrr"] = 0.1
    assert complete(stored, SCHEMA) is None


def test_a_study_reference_must_be_one_of_its_rows(tmp_path):
    spec = yaml.safe_load(STUDY.read_text())
    spec.update(base=str(REPO / "configs" / "isic2017_unet_lite0.yaml"), reference="U-Net / Lite9")
    path = tmp_path / "bad_reference.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match="Lite9"):
        load_study(path)
    assert load_study(STUDY)["reference"] == "U-Net / Lite0 ImageNet"   # the first deep row by default


def test_a_row_can_be_paired_with_its_own_reference(tmp_path):
    """A row naming its own reference (another training seed's reference, say) is stated as a
    difference from that row; the others from the study's reference."""
    from dermaseg.segment.study import write_results

    rows = [{"name": "ref"}, {"name": "ref seed 1", "overrides": ["seed=1"]},
            {"name": "change seed 1", "overrides": ["seed=1", "train.loss=focal"], "reference": "ref seed 1"}]
    spec_file = tmp_path / "own_reference.yaml"
    spec_file.write_text(yaml.safe_dump({"base": str(REPO / "configs" / "isic2017_unet_lite0.yaml"), "rows": rows}))
    spec = load_study(spec_file)
    out = tmp_path / "study"
    dice = {"ref": 0.80, "ref seed 1": 0.70, "change seed 1": 0.75}
    for name, value in dice.items():
        (out / "runs" / slug(name) / "test").mkdir(parents=True)
        (out / "runs" / slug(name) / "test" / "per_image.csv").write_text(
            "image_id,dice,threshold_jaccard\n" + "".join(f"img{i},{value},{value}\n" for i in range(5)))
    write_results(out, [{"name": name} for name in dice], spec)

    with open(out / "results.csv", newline="") as fh:
        table = {r["name"]: r for r in csv.DictReader(fh)}
    assert table["ref"]["dice_delta"] == "" and table["ref"]["compared_with"] == ""
    assert float(table["ref seed 1"]["dice_delta"]) == pytest.approx(-0.10)
    assert table["ref seed 1"]["compared_with"] == "ref"
    assert float(table["change seed 1"]["dice_delta"]) == pytest.approx(+0.05)
    assert table["change seed 1"]["compared_with"] == "ref seed 1"
    assert "| change seed 1 |" in (out / "results.md").read_text()
    assert (out / "results.md").read_text().splitlines()[-1].endswith("| ref seed 1 |")

    rows[2]["reference"] = "no such row"
    spec_file.write_text(yaml.safe_dump({"base": str(REPO / "configs" / "isic2017_unet_lite0.yaml"), "rows": rows}))
    with pytest.raises(ValueError, match="reference of row 'change seed 1' 'no such row'"):
        load_study(spec_file)


@pytest.mark.slow
def test_every_row_runs_on_a_tiny_budget(tmp_path, monkeypatch):
    require_shared_data()
    monkeypatch.chdir(REPO)  # recipes name data and split files relative to the repository
    spec = yaml.safe_load(STUDY.read_text())
    spec.update(base=str(REPO / "configs" / "isic2017_unet_lite0.yaml"), budget=TINY, limit=3)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "study"
    assert main(["study", str(path), "--out", str(out)]) == 0

    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == [r["name"] for r in spec["rows"]]
    for row, declared in zip(rows, spec["rows"]):
        assert int(row["n_images"]) == 3 and 0.0 <= float(row["dice"]) <= 1.0
        if "model" in declared:
            continue
        run = out / "runs" / slug(row["name"])
        for artifact in ("config.yaml", "environment.json", "split.csv", "metrics.csv", "model.pt",
                         "summary.json", "checkpoints/last.ckpt", "test/summary.json", "test/per_image.csv"):
            assert (run / artifact).is_file(), f"{row['name']}: {artifact} missing"
        assert json.loads((run / "summary.json").read_text())["epochs_completed"] == 1
    assert (out / "results.md").read_text().count("\n|") == len(rows) + 2  # header, rule, rows
    # every row but the reference (the first deep row) is stated as a paired difference from it
    reference = next(r["name"] for r in spec["rows"] if "model" not in r)
    for row in rows:
        has_delta = row["dice_delta"] != ""
        assert has_delta == (row["name"] != reference), row["name"]
        if has_delta:
            assert float(row["dice_delta_lo"]) <= float(row["dice_delta"]) <= float(row["dice_delta_hi"])
    assert (out / "learning_curves.png").stat().st_size > 10_000
    # one row rerun: the table keeps every row scored before, in the study's order
    assert main(["study", str(path), "--out", str(out), "--only", "Otsu threshold"]) == 0
    with open(out / "results.csv", newline="") as fh:
        assert [r["name"] for r in csv.DictReader(fh)] == [r["name"] for r in spec["rows"]]


@pytest.mark.slow
def test_rows_train_in_parallel_processes_with_machine_settings(tmp_path, monkeypatch):
    """`--jobs 2` trains two rows at once, each in its own logged process, with the command
    line's machine settings in every row's config; a row that cannot train is named, with its
    log, after the others are scored."""
    require_shared_data()
    monkeypatch.chdir(REPO)
    spec = yaml.safe_load((REPO / "configs" / "studies" / "isic2017_recipe.yaml").read_text())
    spec.update(base=str(REPO / "configs" / "isic2017_unet_lite0.yaml"), budget=TINY, limit=3,
                rows=[{"name": "reference"}, {"name": "focal", "overrides": ["train.loss=focal"]},
                      {"name": "broken", "overrides": ["model.encoder_weights=/no/such/weights.pth"]}])
    path = tmp_path / "tiny_recipe.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "study"
    assert main(["study", str(path), "--out", str(out), "--jobs", "2", "--set", "train.batch_size=4"]) == 2

    with open(out / "results.csv", newline="") as fh:
        assert [r["name"] for r in csv.DictReader(fh)] == ["reference", "focal"]
    for name in ("reference", "focal"):
        run = out / "runs" / name
        assert "best validation Dice" in (run / "train.log").read_text()
        assert yaml.safe_load((run / "config.yaml").read_text())["train"]["batch_size"] == 4
    assert yaml.safe_load((out / "runs" / "focal" / "config.yaml").read_text())["train"]["loss"] == "focal"
    assert (out / "runs" / "broken" / "train.log").is_file() and not (out / "runs" / "broken" / "row.json").exists()
