"""Temperature scaling."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install



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
