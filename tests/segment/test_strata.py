"""Scores by lesion size: each image lands in the stratum of its lesion's share of the frame, and
each stratum's means are those of its own images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dermaseg.segment.metrics import metrics_from_counts
from dermaseg.segment.strata import by_lesion_size, format_strata, lesion_share


def row(image_id, truth_area, h=100, w=100, dice_like_tp=None):
    """A per-image row with `truth_area` lesion pixels; the prediction finds `dice_like_tp` of them."""
    tp = truth_area if dice_like_tp is None else dice_like_tp
    fn = truth_area - tp
    tn = h * w - truth_area
    return {"image_id": image_id, **metrics_from_counts(tp, 0, tn, fn), "height": h, "width": w,
            "truth_area": truth_area, "tp": tp, "fp": 0, "tn": tn, "fn": fn}


def test_images_fall_into_the_stratum_of_their_lesion_share():
    rows = [row("tiny", 150), row("tiny_half_found", 100, dice_like_tp=50), row("two_percent", 200),
            row("mid", 1500), row("large", 9000), row("no_lesion", 0)]
    strata = {s["share"]: s for s in by_lesion_size(rows)}
    assert list(strata) == ["no lesion", "0–2 %", "10–20 %", "40–100 %"]
    small = strata["0–2 %"]
    assert small["n_images"] == 3   # 1.5 %, 1 % and exactly 2 % (a bound belongs to the stratum below)
    assert small["low"] == 0.0 and small["high"] == 0.02
    assert small["sensitivity"] == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    assert small["dice"] == pytest.approx((1.0 + 2 / 3 + 1.0) / 3)
    assert strata["10–20 %"]["n_images"] == 1 and strata["10–20 %"]["dice"] == 1.0
    assert sum(s["n_images"] for s in strata.values()) == len(rows)
    json.dumps(by_lesion_size(rows), allow_nan=False)
    text = format_strata(by_lesion_size(rows))
    assert "0–2 %" in text and "3 images" in text


def test_share_uses_the_image_size_and_refuses_bad_rows_and_bounds():
    assert lesion_share({"truth_area": 50, "height": 10, "width": 20}) == 0.25
    with pytest.raises(ValueError, match="no pixels"):
        lesion_share({"image_id": "x", "truth_area": 0, "height": 0, "width": 20})
    with pytest.raises(ValueError, match="bounds"):
        by_lesion_size([row("a", 10)], bounds=(0.5, 0.2, 1.0))
    with pytest.raises(ValueError, match="bounds"):
        by_lesion_size([row("a", 10)], bounds=(0.1, 0.5))


def test_report_summary_holds_the_strata(tmp_path):
    pytest.importorskip("matplotlib")
    from dermaseg.segment.report import ReportBuilder

    builder = ReportBuilder(n_worst=2)
    for i, radius in enumerate([3, 4, 20, 30]):
        yy, xx = np.mgrid[:100, :100]
        truth = (yy - 50) ** 2 + (xx - 50) ** 2 < radius ** 2
        builder.add(f"img{i}", None, truth, truth if i % 2 else np.zeros_like(truth))
    summary = builder.finish(tmp_path)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["by_lesion_size"] == summary["by_lesion_size"]
    shares = [s["share"] for s in summary["by_lesion_size"]]
    assert shares == ["0–2 %", "10–20 %", "20–40 %"]
    assert summary["by_lesion_size"][0]["n_images"] == 2
    assert summary["by_lesion_size"][0]["dice"] == pytest.approx(0.5)   # one found, one missed
