"""Splits: exact ratios, no lesion on two sides, stratified, reproducible; the CLI writes them."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from support import HAM10000, ISIC2017

from dermaseg.data import open_dataset
from dermaseg.data.splits import make_split, parse_ratios, read_split, write_split


@pytest.fixture(scope="module")
def ham(shared_data):
    return open_dataset(HAM10000)


@pytest.mark.parametrize("ratios", ["80:20", "70:30", "40:60", "70:10:20"])
def test_ratio_holds_and_no_lesion_crosses(ham, ratios):
    fractions = parse_ratios(ratios)
    mapping = make_split(ham.records, fractions, seed=0)
    counts = Counter(mapping.values())
    names = ("train", "test") if len(fractions) == 2 else ("train", "val", "test")
    for name, f in zip(names, fractions):
        assert abs(counts[name] - f * len(ham)) <= 1, (name, counts)
    sides = {}
    for r in ham.records:
        sides.setdefault(r.group, set()).add(mapping[r.image_id])
    assert all(len(s) == 1 for s in sides.values())


def test_stratified_by_diagnosis(ham):
    mapping = make_split(ham.records, (0.8, 0.2), seed=3)
    total = Counter(r.diagnosis for r in ham.records)
    test = Counter(r.diagnosis for r in ham.records if mapping[r.image_id] == "test")
    for dx, n in total.items():
        assert abs(test[dx] / n - 0.2) < 0.03, (dx, test[dx], n)


def test_same_seed_same_split_and_other_seed_differs(ham):
    a = make_split(ham.records, (0.7, 0.3), seed=42)
    b = make_split(ham.records, (0.7, 0.3), seed=42)
    c = make_split(ham.records, (0.7, 0.3), seed=43)
    assert a == b and a != c


def test_split_does_not_depend_on_record_order(ham):
    a = make_split(ham.records, (0.8, 0.2), seed=1)
    b = make_split(list(reversed(ham.records)), (0.8, 0.2), seed=1)
    assert a == b


def test_image_level_split_leaks_lesions(ham):
    mapping = make_split(ham.records, (0.8, 0.2), seed=0, group=False)
    sides = {}
    for r in ham.records:
        sides.setdefault(r.group, set()).add(mapping[r.image_id])
    assert any(len(s) == 2 for s in sides.values())  # the leak the grouped split prevents


def test_bad_ratios_are_clear():
    with pytest.raises(ValueError, match="80:20"):
        parse_ratios("eighty")
    with pytest.raises(ValueError, match="2 .* or 3"):
        parse_ratios("50:30:10:10")


def test_split_file_round_trip(tmp_path):
    mapping = {"b": "test", "a": "train"}
    write_split(tmp_path / "s.csv", mapping)
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "image_id,split"
    assert read_split(tmp_path / "s.csv") == mapping


def test_cli_split_is_identical_across_runs(shared_data, tmp_path):
    outs = []
    for name in ("one.csv", "two.csv"):
        subprocess.run([sys.executable, "-m", "dermaseg.cli", "data", "split", str(ISIC2017), "--ratios", "70:30",
                        "--seed", "7", "--out", str(tmp_path / name)], check=True, capture_output=True)
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    counts = Counter(read_split(tmp_path / "one.csv").values())
    assert counts == {"train": 1400, "test": 600}


def test_cli_inspect_reports_layouts_and_problems(shared_data):
    out = subprocess.run([sys.executable, "-m", "dermaseg.cli", "data", "inspect", str(ISIC2017)],
                         check=True, capture_output=True, text=True).stdout
    assert "isic2017 (2000 images)" in out and "melanoma 374" in out and "256x256 x2000" in out
    assert "mask coverage" in out
