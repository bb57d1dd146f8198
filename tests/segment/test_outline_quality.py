"""mask_quality (the Jaccard the probabilities expect of their own outline) and the figures
`dermaseg evaluate` reports about it, on maps made here."""

from __future__ import annotations

import numpy as np
import pytest


def _disc(size=64, radius=16, edge=1.0):
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    return (1 / (1 + np.exp((r - radius) / edge))).astype(np.float32)   # a sigmoid rim `edge` px wide


def test_a_sharp_map_scores_near_one_and_a_blurred_rim_lower():
    from dermaseg.segment.outline_quality import check_outline, mask_quality

    sharp = mask_quality(_disc(edge=0.3), (0, 0, 0, 0), (64, 64), 0.5)
    soft = mask_quality(_disc(edge=4.0), (0, 0, 0, 0), (64, 64), 0.5)
    assert 0.9 < sharp <= 1.0 and soft < sharp - 0.3
    assert mask_quality(np.full((64, 64), 0.1, np.float32), (0, 0, 0, 0), (64, 64), 0.5) == 0.0
    assert check_outline(soft) is (soft < 0.63) and check_outline(None) is None


def test_letterbox_padding_is_not_scored():
    from dermaseg.segment.outline_quality import mask_quality

    content = _disc(size=64, edge=0.3)
    padded = np.pad(content, ((16, 16), (0, 0)), constant_values=0.45)   # an uncertain grey band
    assert mask_quality(padded, (16, 16, 0, 0), (64, 64), 0.5) == pytest.approx(mask_quality(
        content, (0, 0, 0, 0), (64, 64), 0.5))


def test_evaluate_figures_rank_and_split_the_outlines():
    from dermaseg.segment.evaluate import outline_check_figures

    rows = [{"mask_quality": q, "jaccard": j, "check_outline": q < 0.63}
            for q, j in [(0.9, 0.95), (0.8, 0.9), (0.7, 0.85), (0.5, 0.6), (0.3, 0.4)]]
    f = outline_check_figures(rows)
    assert f["spearman_with_jaccard"] == pytest.approx(1.0) and f["flagged_share"] == pytest.approx(0.4)
    assert f["mean_jaccard_flagged"] == pytest.approx(0.5) and f["mean_jaccard_rest"] == pytest.approx(0.9)
    assert outline_check_figures(rows[:2]) is None
