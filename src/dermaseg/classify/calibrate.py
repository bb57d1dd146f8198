"""Prior correction (logit adjustment) and temperature of a trained classifier, tuned on its validation split.

A classifier trained on HAM10000's real mix (two thirds nevi) leans towards the common classes:
high accuracy, lower balanced accuracy. Logit adjustment (Menon et al., "Long-tail learning via
logit adjustment", ICLR 2021) shifts every logit by -tau * log(prior_c), prior_c the class's share
of the training split: tau = 0 leaves the model as it is, tau = 1 is the full Bayes correction to
a uniform prior. One number, chosen on the validation split (never the test split) to maximise
the mean of accuracy and balanced accuracy, so neither figure is bought with the other; the
shift is stored in the model file and applied by `Classifier` (probabilities renormalised).

Then temperature scaling (Guo et al., "On calibration of modern neural networks", ICML 2017):
the shifted logits divided by one T minimising the validation negative log-likelihood, so a
stated 80 % is right about 80 % of the time. It changes no prediction, only confidence; the
expected calibration error before and after is reported.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from dermaseg.classify import labels as L_
from dermaseg.classify.decisions import adjust, fit_decisions, fit_temperature  # noqa: F401 - re-exported
from dermaseg.classify.predict import Classifier

TAUS = tuple(np.round(np.arange(-0.5, 1.51, 0.125), 3))


def choose_tau(probs: np.ndarray, y: np.ndarray, prior: np.ndarray, class_names: list[str],
               taus=TAUS) -> tuple[float, list[dict]]:
    """The tau maximising (accuracy + balanced accuracy) / 2 on (probs, y); ties go to the smaller |tau|."""
    from dermaseg.classify.metrics import accuracy_balanced_mean, classification_metrics  # scikit-learn: the training install

    log_prior = np.log(np.clip(prior, 1e-12, None))
    table = []
    for tau in taus:
        m = classification_metrics(y, adjust(probs, -tau * log_prior), class_names)
        table.append({"tau": float(tau), "accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"],
                      "score": accuracy_balanced_mean(m)})
    best = max(table, key=lambda r: (round(r["score"], 6), -abs(r["tau"])))
    return best["tau"], table


def calibrate_classifier(model: str | Path, data_root: str | Path, out_model: str | Path,
                         threads: int | None = None) -> dict:
    """Tune tau on the model's validation split (rebuilt from the model file), write `out_model`."""
    from dermaseg.classify.evaluate import held_out_ids
    from dermaseg.classify.metrics import expected_calibration_error
    from dermaseg.classify.modelfile import read_classifier, write_classifier
    from dermaseg.data.readers import open_dataset

    clf = Classifier(model, threads=threads, backend="torch")  # writes a new .pt from its weights
    if clf.shift is not None:
        raise ValueError(f"{clf.path}: already calibrated")
    ds = open_dataset(data_root)
    records = L_.labelled(ds.records, clf.task)
    info = clf.meta.get("info", {})
    by_id = {r.image_id: r for r in records}
    train_ids, _ = held_out_ids(records, info, "train")
    val_ids, _ = held_out_ids(records, info, "val")
    if not val_ids:
        raise ValueError("the model's split has no validation part to tune on")
    y_train = np.array(L_.targets([by_id[i] for i in train_ids], clf.class_names, clf.task))
    prior = np.bincount(y_train, minlength=len(clf.class_names)) / len(y_train)
    images, ids = [], []
    for image_id in val_ids:
        sample = ds.try_load(by_id[image_id])
        if sample is not None:
            images.append(sample.image)
            ids.append(image_id)
    probs = clf.predict_proba(images)
    y_val = np.array(L_.targets([by_id[i] for i in ids], clf.class_names, clf.task))
    tau, table = choose_tau(probs, y_val, prior, clf.class_names)
    shift = -tau * np.log(np.clip(prior, 1e-12, None))
    temperature = fit_temperature(probs, y_val, shift)
    ece = {"before": expected_calibration_error(y_val, adjust(probs, shift)),
           "after": expected_calibration_error(y_val, adjust(probs, shift, temperature))}
    raw = read_classifier(clf.path)
    raw["logit_shift"] = shift.tolist()
    raw["temperature"] = temperature
    calibrated = adjust(probs, shift, temperature)
    raw["decisions"] = fit_decisions(calibrated, y_val, clf.class_names, ensemble=False,
                                     about={"data": str(data_root), "split": "val"}).to_dict()
    raw["info"]["calibration"] = {"method": "logit adjustment (tau) and temperature, both tuned on the validation split",
                                  "tau": tau, "temperature": temperature, "validation_ece": ece,
                                  "train_prior": prior.tolist(), "n_val": len(ids), "table": table}
    out_model = Path(out_model)
    write_classifier(out_model, raw)
    chosen = next(r for r in table if r["tau"] == tau)
    print(f"tau {tau}: validation accuracy {chosen['accuracy']:.3f}, balanced accuracy "
          f"{chosen['balanced_accuracy']:.3f} (tau 0: {next(r for r in table if r['tau'] == 0)}); "
          f"temperature {temperature:.3f}: validation ECE {ece['before']:.3f} -> {ece['after']:.3f}", file=sys.stderr)
    return {"tau": tau, "temperature": temperature, "validation_ece": ece, "table": table, "model": str(out_model),
            "validation": chosen}


def calibrate_ensemble(model: str | Path, data_root: str | Path, out_path: str | Path,
                       threads: int | None = None) -> dict:
    """An ensemble file's own temperature, prediction-set and triage thresholds
    (dermaseg.classify.decisions), fitted on its first member's validation split on the members'
    mean probabilities as they are; writes a new ensemble file (the same members) to `out_path`."""
    import json

    from dermaseg.classify.evaluate import held_out_ids
    from dermaseg.classify.predict import ClassifierEnsemble, load_classifier
    from dermaseg.core.files import atomic_open
    from dermaseg.core.zoo import SHIPPED, resolve
    from dermaseg.data.readers import open_dataset

    source = resolve(model, "classification").path
    clf = load_classifier(model, threads=threads)
    if not isinstance(clf, ClassifierEnsemble) or source.suffix.lower() != ".json":
        raise ValueError(f"{source}: not an ensemble file")
    raw = json.loads(source.read_text())
    clf.decisions = None   # fit on the members' mean, not on an earlier fit's output
    ds = open_dataset(data_root)
    records = L_.labelled(ds.records, clf.task)
    class_map = ((clf.meta.get("info") or {}).get("split") or {}).get("class_map") or {}
    by_id = {r.image_id: L_.renamed(r, class_map) if class_map else r for r in records}
    val_ids, _ = held_out_ids(records, clf.meta.get("info", {}), "val")
    if not val_ids:
        raise ValueError("the model's split has no validation part to fit on")
    probs, ids, chunk = [], [], []
    for image_id in val_ids + [None]:
        sample = ds.try_load(by_id[image_id]) if image_id is not None else None
        if sample is not None:
            chunk.append(sample.image)
            ids.append(image_id)
        if chunk and (len(chunk) == 64 or image_id is None):
            probs.append(clf.predict_proba(chunk))
            chunk = []
    probs = np.concatenate(probs)
    y = np.array(L_.targets([by_id[i] for i in ids], clf.class_names, clf.task))
    decisions = fit_decisions(probs, y, clf.class_names, ensemble=True,
                              about={"data": str(data_root), "split": "val"})
    raw["decisions"] = decisions.to_dict()
    # members named by file stay reachable from wherever the new file goes
    raw["members"] = [m if m in SHIPPED else str((source.parent / m).resolve()) for m in raw["members"]]
    with atomic_open(Path(out_path)) as fh:
        json.dump(raw, fh, indent=2)
        fh.write("\n")
    f = decisions.fitted_on
    print(f"temperature {decisions.temperature:.3f}: validation ECE {f['ece_before']:.3f} -> {f['ece_after']:.3f}; "
          f"prediction sets at {decisions.coverage:.0%}: classes with p >= {decisions.set_threshold:.4f}; "
          f"triage: refer when p(mel) >= {decisions.triage_threshold:.4g} (validation melanoma sensitivity "
          f"{f['triage_sensitivity']:.3f}, specificity {f['triage_specificity']:.3f}; mel+bcc+akiec at the "
          f"same sensitivity: specificity {f['malignant_rule']['specificity']:.3f}), n={f['n']}", file=sys.stderr)
    return raw
