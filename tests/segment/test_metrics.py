"""Parity of dermaseg's ISIC metrics with the official scorer (isic-challenge-scoring)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

isic_metrics = pytest.importorskip("isic_challenge_scoring.metrics")
from isic_challenge_scoring.confusion import create_binary_confusion_matrix  # noqa: E402
from isic_challenge_scoring.load_image import ImagePair  # noqa: E402
from isic_challenge_scoring.segmentation import SegmentationScore  # noqa: E402

from dermaseg.segment.metrics import (  # noqa: E402
    METRIC_NAMES,
    ThresholdSweep,
    as_binary,
    confusion_counts,
    image_metrics,
    metrics_from_counts,
    soft_dice,
    summarise,
)

TOL = 1e-9


def reference_metrics(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The official per-image pipeline: uint8 images binarised with > 128, then metrics.*."""
    cm = create_binary_confusion_matrix(truth > 128, pred > 128)
    return {
        "jaccard": isic_metrics.binary_jaccard(cm),
        "threshold_jaccard": isic_metrics.binary_threshold_jaccard(cm, threshold=0.65),
        "dice": isic_metrics.binary_dice(cm),
        "accuracy": isic_metrics.binary_accuracy(cm),
        "sensitivity": isic_metrics.binary_sensitivity(cm),
        "specificity": isic_metrics.binary_specificity(cm),
    }


def reference_macro(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """The official SegmentationScore macro average, fed in-memory image pairs."""
    image_pairs = []
    for i, (truth, pred) in enumerate(pairs):
        pair = ImagePair(truth_file=Path(f"ISIC_{i:07d}_segmentation.png"))
        pair.image_id, pair.truth_image, pair.prediction_image = f"ISIC_{i:07d}", truth, pred
        image_pairs.append(pair)
    return SegmentationScore(image_pairs).macro_average.to_dict()


def to_uint8(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 255, 0).astype(np.uint8)


def random_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A lesion-like truth blob and a perturbed prediction, or pure noise, at a random size."""
    h, w = rng.integers(1, 90, size=2)
    yy, xx = np.mgrid[:h, :w]
    cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0, max(h, w))
    truth = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
    kind = rng.integers(3)
    if kind == 0:  # shifted, resized blob
        dy, dx, dr = rng.normal(0, 5, size=3)
        pred = (yy - cy - dy) ** 2 + (xx - cx - dx) ** 2 < max(r + dr, 0) ** 2
    elif kind == 1:  # truth with flipped pixels
        pred = truth ^ (rng.random((h, w)) < rng.uniform(0, 0.5))
    else:  # unrelated noise
        pred = rng.random((h, w)) < rng.uniform(0, 1)
    return to_uint8(truth), to_uint8(pred)


def edge_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    empty, full = np.zeros((32, 48), bool), np.ones((32, 48), bool)
    half = empty.copy()
    half[:, :24] = True
    dot_a, dot_b = empty.copy(), empty.copy()
    dot_a[5, 7] = True
    dot_b[20, 30] = True
    cases = {
        "both empty": (empty, empty),
        "truth empty": (empty, half),
        "prediction empty": (half, empty),
        "both full": (full, full),
        "truth full": (full, half),
        "prediction full": (half, full),
        "full vs empty": (full, empty),
        "empty vs full": (empty, full),
        "single pixel match": (dot_a, dot_a),
        "single pixel miss": (dot_a, dot_b),
        "single pixel vs empty": (dot_a, empty),
        "1x1 lesion": (np.ones((1, 1), bool), np.ones((1, 1), bool)),
        "1x1 background": (np.zeros((1, 1), bool), np.zeros((1, 1), bool)),
    }
    return {name: (to_uint8(t), to_uint8(p)) for name, (t, p) in cases.items()}


def assert_close(ours: dict, ref: dict, context: str = "") -> None:
    for name in METRIC_NAMES:
        assert abs(ours[name] - float(ref[name])) <= TOL, f"{context} {name}: {ours[name]} vs {ref[name]}"


@pytest.mark.parametrize("name", list(edge_cases()))
def test_edge_cases_match_official_scorer(name):
    truth, pred = edge_cases()[name]
    assert_close(image_metrics(truth, pred), reference_metrics(truth, pred), name)
    # bool input scores the same as the 0/255 image
    assert image_metrics(truth > 128, pred > 128) == image_metrics(truth, pred)


def test_edge_case_values_follow_challenge_conventions():
    cases = edge_cases()
    both_empty = image_metrics(*cases["both empty"])
    assert both_empty == dict.fromkeys(METRIC_NAMES, 1.0)
    truth_empty = image_metrics(*cases["truth empty"])
    assert truth_empty["jaccard"] == truth_empty["dice"] == 0.0
    assert truth_empty["sensitivity"] == 1.0 and truth_empty["specificity"] == 0.5
    truth_full = image_metrics(*cases["truth full"])
    assert truth_full["specificity"] == 1.0 and truth_full["sensitivity"] == 0.5
    miss = image_metrics(*cases["single pixel miss"])
    assert miss["jaccard"] == 0.0 and miss["accuracy"] == 1 - 2 / (32 * 48)


def test_random_masks_match_official_scorer():
    rng = np.random.default_rng(2017)
    pairs = [random_pair(rng) for _ in range(200)]
    for i, (truth, pred) in enumerate(pairs):
        assert_close(image_metrics(truth, pred), reference_metrics(truth, pred), f"pair {i}")
        cm = create_binary_confusion_matrix(truth > 128, pred > 128)
        assert confusion_counts(truth, pred) == (cm["TP"], cm["FP"], cm["TN"], cm["FN"])
    # Both sides of the 0.65 cut-off are exercised, so the threshold is really tested.
    jaccards = [image_metrics(t, p)["jaccard"] for t, p in pairs]
    assert min(jaccards) < 0.65 < max(jaccards)


def test_macro_average_matches_official_scorer():
    rng = np.random.default_rng(7)
    pairs = [random_pair(rng) for _ in range(60)] + list(edge_cases().values())
    ours = summarise([image_metrics(t, p) for t, p in pairs])
    assert ours["n_images"] == len(pairs)
    assert_close(ours, reference_macro(pairs), "macro")


def test_threshold_jaccard_cut_off_is_inclusive():
    # 13 / (13 + 7) == 0.65 exactly: kept; one more false positive drops it to 0.
    at_cut = metrics_from_counts(13, 4, 100, 3)
    assert at_cut["jaccard"] == 0.65 and at_cut["threshold_jaccard"] == 0.65
    below = metrics_from_counts(13, 5, 100, 3)
    assert below["jaccard"] < 0.65 and below["threshold_jaccard"] == 0.0
    assert metrics_from_counts(13, 5, 100, 3, jaccard_threshold=0.5)["threshold_jaccard"] == below["jaccard"]


def test_uint8_masks_binarise_like_the_scorer():
    truth = np.array([[0, 128, 129, 255]], np.uint8)
    # > 128 is lesion: 128 is background, 129 is lesion (the scorer's rule for submitted PNGs)
    assert confusion_counts(truth, truth) == (2, 0, 2, 0)
    assert as_binary(truth).tolist() == [[False, False, True, True]]


def test_bad_masks_are_refused_with_a_clear_error():
    mask = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="shape"):
        confusion_counts(mask, np.zeros((4, 5), np.uint8))
    with pytest.raises(TypeError, match="threshold probabilities"):
        image_metrics(mask, np.full((4, 4), 0.7))
    with pytest.raises(ValueError, match=r"\{0, 1\}"):
        image_metrics(np.eye(4, dtype=np.uint8), mask)


def test_summarise_macro_averages_and_never_skips():
    rows = [{"image_id": "a", **dict.fromkeys(METRIC_NAMES, 1.0)},
            {"image_id": "b", **dict.fromkeys(METRIC_NAMES, 0.0)},
            {"image_id": "c", **dict.fromkeys(METRIC_NAMES, 0.5)}]
    summary = summarise(rows)
    assert summary["n_images"] == 3
    assert all(summary[name] == pytest.approx(0.5) for name in METRIC_NAMES)
    with pytest.raises(ValueError, match="'b'|b.*NaN"):
        summarise([rows[0], {**rows[1], "dice": float("nan")}])
    broken = dict(rows[2])
    del broken["specificity"]
    with pytest.raises(ValueError, match="c.*specificity"):
        summarise([rows[0], broken])
    with pytest.raises(ValueError, match="no images"):
        summarise([])


def test_threshold_sweep_is_exact_and_picks_the_best_threshold():
    rng = np.random.default_rng(3)
    thresholds = [0.1, 0.3, 0.5, 0.7, 0.9]
    sweep = ThresholdSweep(thresholds)
    images = []
    for _ in range(6):
        truth = rng.random((30, 40)) < 0.4
        # Probabilities biased low: lesion pixels ~0.35, background ~0.05, so a low threshold wins.
        probs = np.clip(np.where(truth, 0.35, 0.05) + rng.normal(0, 0.08, truth.shape), 0, 1)
        probs[0, 0] = 0.5  # a pixel exactly on a threshold counts as positive (probs >= t)
        sweep.add(truth, probs)
        images.append((truth, probs))
    best, table = sweep.best("jaccard")
    for row in table:
        expected = summarise([image_metrics(t, p >= row["threshold"]) for t, p in images])
        assert row == {"threshold": row["threshold"], **expected}
    assert best == max(table, key=lambda r: r["jaccard"])["threshold"]
    assert best in (0.1, 0.3) and best != 0.5
    with pytest.raises(ValueError, match="unknown metric"):
        sweep.best("f1")


def test_soft_dice_equals_hard_dice_on_binary_probabilities():
    rng = np.random.default_rng(0)
    truth, pred = rng.random((20, 20)) < 0.5, rng.random((20, 20)) < 0.5
    assert soft_dice(pred.astype(float), truth) == pytest.approx(image_metrics(truth, pred)["dice"], abs=1e-12)
    assert soft_dice(np.zeros((3, 3)), np.zeros((3, 3), bool)) == 1.0
    assert soft_dice(np.full((2, 2), 0.5), np.ones((2, 2), bool)) == pytest.approx(2 / 3)


def test_mean_interval_narrows_with_more_images_and_is_exact_without_spread():
    import numpy as np

    from dermaseg.segment.metrics import mean_interval

    rng = np.random.default_rng(0)
    assert mean_interval([0.8] * 50) == pytest.approx((0.8, 0.8))
    small = mean_interval(rng.uniform(0.5, 1.0, 100))
    large = mean_interval(rng.uniform(0.5, 1.0, 1600))
    # the standard error of the mean shrinks as 1/sqrt(n): 16x the images, about a quarter the width
    ratio = (large[1] - large[0]) / (small[1] - small[0])
    assert 0.18 < ratio < 0.35
    assert small[0] < 0.75 < small[1] and large[0] < 0.75 < large[1]
    with pytest.raises(ValueError, match="no values"):
        mean_interval([])
