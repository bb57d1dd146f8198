"""The shipped classifier's model-card figures hold on a rerun of its evaluation at a small
budget: a fixed, class-stratified draw from its own held-out HAM10000 test split (up to 40
images a class, 80 nevi), its own TTA, from the raw images. From the per-class recalls the
rerun estimates the card's balanced accuracy (their mean) and accuracy (their mean weighted by
the test split's class shares); each standard error is about 0.03 at this size, and the stated
tolerance is 0.08 for both. On the same draw, weighted back to the split's mix, the prediction
sets' coverage, the calibration error and the triage point's melanoma sensitivity. A guard against broken shipped weights, preprocessing or metadata;
runs without torch."""

from __future__ import annotations

from collections import Counter

import numpy as np
from support import HAM10000, require_shared_data

PER_CLASS, NEVI = 40, 80
TOLERANCE = 0.08


def test_model_card_figures_hold_on_a_stratified_rerun():
    require_shared_data()
    from dermaseg.classify import labels as L_
    from dermaseg.classify.evaluate import held_out_ids
    from dermaseg.classify.predict import load_classifier
    from dermaseg.data.readers import open_dataset

    clf = load_classifier()                        # the shipped default, ONNX Runtime
    card = clf.meta["held_out"]
    assert clf.tta_views == card["tta_views"]      # predicts with the views its figures were measured at
    assert card["split"] == "test" and card["n"] >= 2000
    ds = open_dataset(HAM10000)
    records = L_.labelled(ds.records, clf.task)
    ids, warning = held_out_ids(records, clf.meta["info"], "test")
    assert warning is None and len(ids) == card["n"]
    by_id = {r.image_id: r for r in records}
    cls = {i: L_.record_class(by_id[i], clf.task) for i in ids}
    shares = {c: n / len(ids) for c, n in Counter(cls.values()).items()}
    rng = np.random.default_rng(0)
    recall, drawn = {}, []
    for c in clf.class_names:
        pool = sorted(i for i in ids if cls[i] == c)
        chosen = rng.choice(pool, min(len(pool), NEVI if c == "nv" else PER_CLASS), replace=False)
        probs = clf.predict_proba([ds.load(by_id[i]).image for i in chosen])
        recall[c] = float(np.mean(probs.argmax(axis=1) == clf.class_names.index(c)))
        drawn += [(c, p, shares[c] / len(chosen)) for p in probs]   # weight: the class's test share
    balanced = float(np.mean(list(recall.values())))
    accuracy = sum(shares[c] * r for c, r in recall.items())
    assert abs(balanced - card["balanced_accuracy"]) <= TOLERANCE, (balanced, card["balanced_accuracy"], recall)
    assert abs(accuracy - card["accuracy"]) <= TOLERANCE, (accuracy, card["accuracy"], recall)
    _decisions_hold(clf, drawn)


def _decisions_hold(clf, drawn):
    """On the same draw, weighted back to the test split's mix: the prediction sets' coverage is
    near its target, the calibration error small, and the triage point refers most melanomas."""
    d = clf.decisions
    assert d is not None and d.coverage == 0.9 and d.temperature is not None
    w = np.array([x for _, _, x in drawn])
    hit = np.array([c in d.prediction_set(p, clf.class_names) for c, p, _ in drawn])
    coverage = float(np.sum(w * hit) / w.sum())
    assert abs(coverage - d.coverage) <= 0.05, coverage
    confidence = np.array([p.max() for _, p, _ in drawn])
    correct = np.array([clf.class_names[int(p.argmax())] == c for c, p, _ in drawn])
    bins = np.clip(np.ceil(confidence * 15).astype(int) - 1, 0, 14)
    ece = sum(abs(np.sum(w[bins == b] * (correct[bins == b] - confidence[bins == b]))) for b in range(15)) / w.sum()
    assert ece <= 0.07, ece
    refer = [d.triage(p, clf.class_names) == "refer" for c, p, _ in drawn if c == "mel"]
    assert np.mean(refer) >= 0.8
