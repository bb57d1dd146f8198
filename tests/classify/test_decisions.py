"""Prediction sets, the triage point and the ensemble's temperature (dermaseg.classify.decisions),
on numbers made here with known answers."""

from __future__ import annotations

import numpy as np
import pytest

NAMES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def _sample(n=2000, seed=0, sharpness=3.0):
    """Probabilities whose true class is drawn from them: calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, sharpness, (n, len(NAMES)))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(len(NAMES), p=row) for row in p])
    return p, y


def test_conformal_sets_reach_their_coverage_on_new_draws_of_the_same_population():
    from dermaseg.classify.decisions import Decisions, conformal_threshold, decision_metrics

    p_cal, y_cal = _sample(seed=1)
    p_test, y_test = _sample(seed=2)
    d = Decisions(set_threshold=conformal_threshold(p_cal, y_cal, 0.9), coverage=0.9)
    figures = decision_metrics(p_test, y_test, NAMES, d)["prediction_sets"]
    assert 0.88 <= figures["coverage"] <= 0.93
    assert 1 < figures["mean_size"] < len(NAMES)
    assert set(figures["by_true_class"]) == set(NAMES)
    # a higher coverage needs larger sets
    wide = Decisions(set_threshold=conformal_threshold(p_cal, y_cal, 0.97), coverage=0.97)
    assert decision_metrics(p_test, y_test, NAMES, wide)["prediction_sets"]["mean_size"] > figures["mean_size"]


def test_a_set_lists_classes_most_probable_first_and_never_comes_back_empty():
    from dermaseg.classify.decisions import Decisions

    d = Decisions(set_threshold=0.2)
    assert d.prediction_set(np.array([0.05, 0.05, 0.3, 0.0, 0.25, 0.35, 0.0]), NAMES) == ["nv", "bkl", "mel"]
    assert d.prediction_set(np.array([0.16, 0.14, 0.14, 0.14, 0.14, 0.14, 0.14]), NAMES) == ["akiec"]
    assert Decisions().prediction_set(np.full(7, 1 / 7), NAMES) == []


def test_triage_threshold_refers_the_asked_share_of_melanomas():
    from dermaseg.classify.decisions import Decisions, sensitivity_threshold

    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01, 0.02])
    positive = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], bool)
    t = sensitivity_threshold(score, positive, 0.9)
    assert t == pytest.approx(0.1) and (score[positive] >= t).mean() == pytest.approx(0.9)
    d = Decisions(triage_threshold=0.3)
    p = np.zeros(7)
    p[NAMES.index("mel")], p[NAMES.index("nv")] = 0.3, 0.7
    assert d.triage(p, NAMES) == "refer"
    p[NAMES.index("mel")], p[NAMES.index("nv")] = 0.29, 0.71
    assert d.triage(p, NAMES) == "routine"


def test_fitting_an_overconfident_ensemble_lowers_its_calibration_error():
    from dermaseg.classify.decisions import adjust, decision_metrics, fit_decisions
    from dermaseg.classify.metrics import expected_calibration_error

    p, y = _sample(n=3000, seed=3)
    overconfident = adjust(p, None, 0.5)            # the same ranking, twice as sharp
    d = fit_decisions(overconfident[:1500], y[:1500], NAMES, ensemble=True)
    assert d.temperature == pytest.approx(2.0, rel=0.15)
    held = overconfident[1500:]
    before = expected_calibration_error(y[1500:], held)
    after = expected_calibration_error(y[1500:], d.calibrate(held))
    assert after < 0.05 and after < before / 3, (before, after)
    f = d.fitted_on
    assert f["triage_sensitivity"] >= 0.9 and f["malignant_rule"]["sensitivity"] >= 0.9
    triage = decision_metrics(d.calibrate(held), y[1500:], NAMES, d)["triage"]
    assert triage["sensitivity"] >= 0.8 and 0 < triage["specificity"] < 1


def test_decisions_survive_the_round_trip_through_a_model_file():
    from dermaseg.classify.decisions import Decisions

    d = Decisions(temperature=0.9, set_threshold=0.2, coverage=0.9, triage_threshold=0.01, fitted_on={"n": 5})
    assert Decisions.from_dict(d.to_dict()) == d
    assert Decisions.from_dict(None) is None
