"""The shipped classifier's model-card figures hold on a rerun of its evaluation at a small
budget: a fixed, class-stratified draw from its own held-out HAM10000 test split (up to 40
images a class, 80 nevi), its own TTA, from the raw images. From the per-class recalls the
rerun estimates the card's balanced accuracy (their mean) and accuracy (their mean weighted by
the test split's class shares); each standard error is about 0.03 at this size, and the stated
tolerance is 0.08 for both. A guard against broken shipped weights, preprocessing or metadata;
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
    assert card["split"] == "test" and card["n"] >= 2000
    ds = open_dataset(HAM10000)
    records = L_.labelled(ds.records, clf.task)
    ids, warning = held_out_ids(records, clf.meta["info"], "test")
    assert warning is None and len(ids) == card["n"]
    by_id = {r.image_id: r for r in records}
    cls = {i: L_.record_class(by_id[i], clf.task) for i in ids}
    shares = {c: n / len(ids) for c, n in Counter(cls.values()).items()}
    rng = np.random.default_rng(0)
    recall = {}
    for c in clf.class_names:
        pool = sorted(i for i in ids if cls[i] == c)
        chosen = rng.choice(pool, min(len(pool), NEVI if c == "nv" else PER_CLASS), replace=False)
        probs = clf.predict_proba([ds.load(by_id[i]).image for i in chosen])
        recall[c] = float(np.mean(probs.argmax(axis=1) == clf.class_names.index(c)))
    balanced = float(np.mean(list(recall.values())))
    accuracy = sum(shares[c] * r for c, r in recall.items())
    assert abs(balanced - card["balanced_accuracy"]) <= TOLERANCE, (balanced, card["balanced_accuracy"], recall)
    assert abs(accuracy - card["accuracy"]) <= TOLERANCE, (accuracy, card["accuracy"], recall)
