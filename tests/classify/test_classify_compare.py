"""`dermaseg classify compare`: intervals and paired differences."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install

from support import HAM10000


def test_compare_states_intervals_and_paired_differences(tmp_path):

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
    from support import require_shared_data

    from dermaseg.classify.compare import lesion_groups

    require_shared_data()

    # ISIC_0027419 and ISIC_0025030 are two images of lesion HAM_0000118; an unknown id stands alone
    groups = lesion_groups(HAM10000, ["ISIC_0027419", "ISIC_0025030", "ISIC_0026769", "X"])
    assert groups[0] == groups[1] == "HAM_0000118" and groups[2] != groups[0] and groups[3] == "X"
