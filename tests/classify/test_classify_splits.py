"""Lesion-grouped classification splits; joint sources keep their own split."""

from __future__ import annotations

from collections import Counter

import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install

from support import HAM10000, REPO

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


def test_joint_sources_keep_the_split_each_has_alone(shared_data):
    """The HAM10000 test part of a HAM10000 + ISIC 2017 run is the HAM10000-only run's, and
    `classify evaluate` rebuilds ISIC 2017's held-out part from the raw diagnoses."""
    from dermaseg.classify.config import load_config
    from dermaseg.classify.evaluate import held_out_ids
    from dermaseg.classify.splits import select_records, split_mapping
    from dermaseg.data import open_dataset

    joint = load_config(REPO / "configs" / "classify_ham_isic2017_lite0_finetune.yaml")
    _, records, names = select_records(joint)
    mapping = split_mapping(joint, records)
    assert names == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    alone = load_config(REPO / "configs" / "classify_ham10000_lite0_finetune.yaml")
    _, ham_records, _ = select_records(alone)
    assert {i: mapping[i] for i in (r.image_id for r in ham_records)} == split_mapping(alone, ham_records)
    isic = [r for r in records if "source" in r.labels]
    assert len(isic) == 2000 and {r.diagnosis for r in isic} == {"mel", "nv", "bkl"}
    raw = open_dataset(shared_data / "isic2017").records
    info = {"split": {"ratios": "80:20", "mode": "grouped", "split_seed": 0, "val_fraction": 0.1,
                      "n_test": 2403, "n_test_by_source": {"ham10000": 2003, "isic2017": 400}}}
    test_ids, warning = held_out_ids(raw, info, "test")
    assert warning is None and len(test_ids) == 400 and all(mapping[i] == "test" for i in test_ids)
