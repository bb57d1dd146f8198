"""`dermaseg compare`: segmentation evaluations of the same images, paired by image."""

import json

import numpy as np
import pytest

from dermaseg.cli import main
from dermaseg.segment.compare import compare, paired_difference, read_scores
from dermaseg.segment.metrics import METRIC_NAMES
from dermaseg.segment.report import write_per_image_csv

IDS = [f"ISIC_{i:07d}" for i in range(300)]


def _evaluation(folder, dice_by_id):
    """An evaluation folder whose per_image.csv holds these Dice values (other metrics derived)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for image_id, dice in dice_by_id.items():
        jaccard = dice / (2 - dice)
        rows.append({"image_id": image_id, "jaccard": jaccard, "threshold_jaccard": jaccard if jaccard >= 0.65 else 0.0,
                     "dice": dice, "accuracy": 0.95, "sensitivity": 0.9, "specificity": 0.97})
    write_per_image_csv(folder / "per_image.csv", rows)
    return folder


def test_paired_difference_is_the_mean_gap_with_an_interval_that_narrows_with_agreement():
    rng = np.random.default_rng(1)
    ids = [f"ISIC_{i:07d}" for i in range(400)]
    reference = {i: float(v) for i, v in zip(ids, rng.uniform(0.6, 0.95, len(ids)))}
    assert paired_difference(reference, reference) == (0.0, 0.0, 0.0)
    shifted = {i: v + 0.01 for i, v in reference.items()}
    delta, lo, hi = paired_difference(reference, shifted)
    assert delta == pytest.approx(0.01) and hi - lo < 1e-9       # the same gap on every image: no doubt
    noisy = {i: v + 0.01 + float(rng.normal(0, 0.05)) for i, v in reference.items()}
    delta, lo, hi = paired_difference(reference, noisy)
    assert lo < delta < hi and 0.005 < hi - lo < 0.02            # about 4 standard errors of 0.0025 wide
    # only images both rows scored are paired; none in common is an error, not a silent zero
    assert paired_difference(reference, {ids[0]: 1.0})[0] == pytest.approx(1.0 - reference[ids[0]])
    with pytest.raises(ValueError, match="no image"):
        paired_difference(reference, {"other": 0.5})


def test_compare_states_each_mean_and_the_paired_gap_from_the_first(tmp_path):
    rng = np.random.default_rng(0)
    base = {i: float(v) for i, v in zip(IDS, rng.uniform(0.5, 0.97, len(IDS)))}
    better = {i: min(1.0, v + 0.02 + float(rng.normal(0, 0.01))) for i, v in base.items()}
    a, b = _evaluation(tmp_path / "a", base), _evaluation(tmp_path / "b", better)
    report = compare([a, b], rounds=500)
    first, second = report["evaluations"]
    assert report["n_images"] == len(IDS) and "minus_first" not in first
    assert first["dice"] == pytest.approx(np.mean(list(base.values())))
    lo, hi = first["ci95"]["dice"]
    assert lo < first["dice"] < hi and hi - lo > 0.02               # images differ a lot: a wide interval
    gap = second["minus_first"]["dice"]
    assert gap == pytest.approx(second["dice"] - first["dice"])
    lo, hi = second["minus_first_ci95"]["dice"]
    assert 0 < lo < gap < hi and hi - lo < 0.01                   # paired: the consistent gain is resolved
    assert second["minus_first"]["accuracy"] == 0.0               # every metric is compared, not only Dice


def test_compare_refuses_evaluations_of_different_images_unless_asked(tmp_path):
    base = {i: 0.9 for i in IDS}
    fewer = {i: 0.8 for i in IDS[:-5]}                           # five images it failed to score
    a, b = _evaluation(tmp_path / "a", base), _evaluation(tmp_path / "b", fewer)
    with pytest.raises(ValueError, match="5 only in the first.*--common"):
        compare([a, b])
    report = compare([a, b / "per_image.csv"], common=True, rounds=200)
    assert report["n_images"] == len(IDS) - 5
    assert [e["left_out"] for e in report["evaluations"]] == [5, 0]
    assert report["evaluations"][1]["minus_first"]["dice"] == pytest.approx(-0.1)


def test_read_scores_names_the_file_and_the_problem(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_scores(tmp_path)
    bad = tmp_path / "per_image.csv"
    bad.write_text("image_id,dice\nISIC_0000000,0.9\n")
    with pytest.raises(ValueError, match=r"per_image.csv: not a per-image score file \(no column jaccard"):
        read_scores(bad)
    bad.write_text("image_id," + ",".join(METRIC_NAMES) + "\nISIC_0000000," + ",".join(["x"] * len(METRIC_NAMES)) + "\n")
    with pytest.raises(ValueError, match="per_image.csv: could not convert"):
        read_scores(bad)


def test_compare_command_prints_the_table_and_writes_its_files(tmp_path, capsys):
    a = _evaluation(tmp_path / "a", {i: 0.85 for i in IDS})
    b = _evaluation(tmp_path / "b", {i: 0.88 for i in IDS})
    assert main(["compare", str(a), str(b), "--rounds", "100", "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    assert f"{len(IDS)} images resampled 100 times" in printed and "+0.030 (+0.030 to +0.030)" in printed
    assert (tmp_path / "cmp" / "comparison.md").read_text() == printed
    assert json.loads((tmp_path / "cmp" / "comparison.json").read_text())["evaluations"][1]["evaluation"] == str(b)
    assert main(["compare", str(a)]) == 2                         # one evaluation: nothing to compare
    assert "two evaluations or more" in capsys.readouterr().err


def test_compare_breaks_the_gap_down_by_lesion_size_when_the_files_hold_sizes(tmp_path, capsys):
    """A model that fails only on small lesions: the overall gap is modest, the small stratum's is not."""
    rng = np.random.default_rng(2)
    small = set(IDS[:40])                       # lesions of 1 % of the frame, the rest 30 %
    base = {i: float(v) for i, v in zip(IDS, rng.uniform(0.85, 0.95, len(IDS)))}
    worse = {i: v - (0.3 if i in small else 0.0) for i, v in base.items()}
    a, b = _evaluation(tmp_path / "a", base), _evaluation(tmp_path / "b", worse)
    for folder in (a, b):                       # add the size columns every evaluation writes
        path = folder / "per_image.csv"
        lines = path.read_text().splitlines()
        sized = [lines[0] + ",truth_area,height,width"]
        sized += [line + (",100,100,100" if line.split(",")[0] in small else ",3000,100,100") for line in lines[1:]]
        path.write_text("\n".join(sized) + "\n")
    report = compare([a, b], rounds=300)
    strata = {s["share"]: s for s in report["by_lesion_size"]}
    assert [s["n_images"] for s in strata.values()] == [40, 260] and list(strata) == ["0–2 %", "20–40 %"]
    gap_small = strata["0–2 %"]["evaluations"][1]
    assert gap_small["dice_minus_first"] == pytest.approx(-0.3)
    assert strata["20–40 %"]["evaluations"][1]["dice_minus_first"] == pytest.approx(0.0, abs=1e-12)
    assert "dice_minus_first" not in strata["0–2 %"]["evaluations"][0]
    assert main(["compare", str(a), str(b), "--rounds", "100"]) == 0
    printed = capsys.readouterr().out
    assert "lesion share of the frame" in printed and "| 0–2 % | 40 |" in printed


def test_strata_columns_name_each_evaluation_by_the_shortest_path_tail_that_tells_them_apart():
    from dermaseg.segment.compare import _short_names

    assert _short_names(["runs/ref/test", "runs/long/test"]) == ["ref/test", "long/test"]
    assert _short_names(["evaluations/a", "evaluations/b"]) == ["a", "b"]
