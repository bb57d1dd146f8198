"""Classification metrics against scikit-learn and by hand; expected calibration error."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
from sklearn import metrics as skm

from dermaseg.classify.metrics import classification_metrics

# --- metrics -------------------------------------------------------------------------------------

def test_metrics_agree_with_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4)) + 1.5 * np.eye(4)[y]
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pred = prob.argmax(1)
    m = classification_metrics(y, prob, ["a", "b", "c", "d"])
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["macro_auc"] == pytest.approx(skm.roc_auc_score(y, prob, multi_class="ovr", average="macro"))
    prec = skm.precision_score(y, pred, average=None)
    rec = skm.recall_score(y, pred, average=None)
    for c, name in enumerate("abcd"):
        assert m["per_class"][name]["precision"] == pytest.approx(prec[c])
        assert m["per_class"][name]["recall"] == pytest.approx(rec[c])
    assert np.array_equal(m["confusion_matrix"], skm.confusion_matrix(y, pred))


def test_metrics_by_hand_and_with_an_absent_class():
    # truth 0,0,1,1,2; predicted 0,1,1,1,0 -> recalls 1/2, 1, 0 -> balanced 0.5; accuracy 3/5
    prob = np.eye(3)[[0, 1, 1, 1, 0]] * 0.8 + 0.2 / 3
    m = classification_metrics([0, 0, 1, 1, 2], prob, ["x", "y", "z"])
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    # class 2 never occurs in the truth: no AUC for it, balanced accuracy over the classes present
    m = classification_metrics([0, 1, 1], np.eye(3)[[0, 1, 2]], ["x", "y", "z"])
    assert m["per_class"]["z"]["auc"] is None
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score([0, 1, 1], [0, 1, 2]))


def test_expected_calibration_error_by_hand():
    from dermaseg.classify.metrics import expected_calibration_error

    # two bins used: confidence 0.9 (3 right of 4) and 0.6 (1 right of 2)
    prob = np.array([[0.9, 0.1]] * 4 + [[0.4, 0.6]] * 2)
    y = np.array([0, 0, 0, 1, 1, 0])
    expected = 4 / 6 * abs(0.75 - 0.9) + 2 / 6 * abs(0.5 - 0.6)
    assert expected_calibration_error(y, prob) == pytest.approx(expected)
    assert classification_metrics(y, prob, ["a", "b"])["ece"] == pytest.approx(expected)
