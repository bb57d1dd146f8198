"""`dermaseg classify evaluate`: figures of a classifier file on labelled data, from the raw images.

By default it scores the held-out test split the model was trained without: the split is
rebuilt from the parameters stored in the model file (ratios, grouping, seeds) on the same
data, and its size is checked against the stored one. `split="all"` scores every labelled
image (external data), `split_file` any split you give. A seven-class HAM10000 model can be
scored as melanoma vs. rest (`task="melanoma"`) on ISIC 2017 or PH2: its melanoma probability
against the sum of the others. Whenever melanoma is one of the classes scored, the
melanoma-vs-rest ROC curve is drawn (roc_melanoma.png) and its AUC, with a bootstrap
interval, written to roc_melanoma.json and metrics.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from dermaseg.classify import labels as L_
from dermaseg.classify.metrics import classification_metrics, summary_line
from dermaseg.classify.plots import plot_confusion, plot_reliability
from dermaseg.classify.predict import load_classifier
from dermaseg.data.readers import open_dataset
from dermaseg.data.splits import read_split


def held_out_ids(records, info: dict, split: str) -> tuple[list[str], str | None]:
    """Ids of `split` as the model's training run made it; and a warning when the data differ."""
    from dermaseg.classify.splits import classification_split

    s = info.get("split") or {}
    if not s:
        raise ValueError("the model file records no training split; pass --split all or --split-file")
    if s.get("split_file"):
        mapping = read_split(s["split_file"])
    else:
        if s.get("limit_images"):
            rng = np.random.default_rng(int(s.get("seed", 0)))
            keep = sorted(rng.choice(len(records), size=min(int(s["limit_images"]), len(records)), replace=False))
            records = [records[i] for i in keep]
        mapping = classification_split(records, s["ratios"], mode=s["mode"], seed=int(s["split_seed"]),
                                       val_fraction=float(s["val_fraction"]))
    ids = sorted(i for i, part in mapping.items() if part == split)
    warning = None
    # a joint run holds out each source's own part: any one of them is the model's held-out data
    expected = {int(s["n_test"])} if s.get("n_test") is not None else set()
    expected |= {int(n) for n in (s.get("n_test_by_source") or {}).values()}
    if split == s.get("reported_on", "test") and expected and len(ids) not in expected:
        warning = (f"this data gives {len(ids)} {split} images but the model was tested on "
                   f"{' or '.join(str(n) for n in sorted(expected))}: "
                   "not the same data, so these are not the model's held-out figures")
    return ids, warning


def trained_on_warning(ds, clf, data_root, ids: list[str]) -> str | None:
    """A warning when the model trained (or chose its epoch) on some of `ids`: the model file
    names the collections it trained on, and their split is rebuilt from it."""
    info = clf.meta.get("info") or {}
    s = info.get("split") or {}
    sources = [info.get("data_root"), *(s.get("joint") or [])]
    if not s or Path(str(data_root)).resolve().name not in {Path(str(x)).name for x in sources if x}:
        return None
    records = L_.labelled(ds.records, clf.task)
    seen = set()
    for part in ("train", "val"):
        try:
            seen |= set(held_out_ids(records, info, part)[0])
        except ValueError:
            return None
    overlap = len(seen.intersection(ids))
    if not overlap:
        return None
    return (f"{overlap} of these {len(ids)} images were in the model's training or validation split: "
            "these are not held-out figures")


def evaluate_classifier(model: str | Path | list | None, data_root: Path | str, out_dir: Path | str, *,
                        split: str = "test", split_file: str | None = None, task: str | None = None,
                        tta_views: int | None = None, crop: str = "model", segmenter: str | None = None,
                        threads: int | None = None, backend: str = "auto", precision: str = "auto") -> dict:
    from dermaseg.classify.predictions import write_predictions

    clf = load_classifier(model, tta_views=tta_views, crop=crop, segmenter=segmenter, threads=threads,
                          backend=backend, precision=precision)
    task = task or clf.task
    collapse = task == "melanoma" and clf.task != "melanoma"
    names = list(L_.BINARY_CLASSES) if collapse else clf.class_names
    ds = open_dataset(data_root)
    records = L_.labelled(ds.records, task if not collapse else "melanoma")
    if not records:
        raise ValueError(f"{data_root}: no image carries a diagnosis")
    class_map = ((clf.meta.get("info") or {}).get("split") or {}).get("class_map") or {}
    if class_map and not collapse:   # a collection trained on jointly, its diagnoses renamed as in training
        records = [L_.renamed(r, class_map) for r in records]
    warning = None
    if split == "all":
        ids = [r.image_id for r in records]
    elif split_file:
        mapping = read_split(split_file)
        ids = sorted(i for i, part in mapping.items() if part == split)
    else:
        # rebuild from the same labelled records (model's own task) that training used
        train_task_records = L_.labelled(ds.records, clf.task)
        ids, warning = held_out_ids(train_task_records, clf.meta.get("info", {}), split)
    by_id = {r.image_id: r for r in records}
    ids = [i for i in ids if i in by_id]
    if not ids:
        raise ValueError(f"{data_root}: no labelled image in split {split!r}")
    members = clf.members
    # the default split is the first member's held-out part; any other member may have trained on it
    for member in members if split == "all" or split_file else members[1:]:
        note = trained_on_warning(ds, member, data_root, ids)
        if note:
            warning = (f"{member.path}: {note}" if len(members) > 1 else note) + (f"; {warning}" if warning else "")
    if warning:
        print(f"dermaseg: warning: {warning}", file=sys.stderr)
    y = np.array(L_.targets([by_id[i] for i in ids], names, "melanoma" if collapse else task))

    kept, probs = [], []
    chunk: list[np.ndarray] = []
    chunk_ids: list[str] = []

    def flush():
        if chunk:
            probs.append(clf.predict_proba(chunk))
            kept.extend(chunk_ids)
            chunk.clear()
            chunk_ids.clear()

    for image_id in ids:
        sample = ds.try_load(by_id[image_id])   # a bad file is reported and skipped
        if sample is None:
            continue
        chunk.append(sample.image)
        chunk_ids.append(image_id)
        if len(chunk) >= 64:
            flush()
    flush()
    if not kept:
        raise ValueError("no readable image to score")
    p = np.concatenate(probs)
    index = {i: k for k, i in enumerate(ids)}
    y = y[[index[i] for i in kept]]
    decided = _decision_figures(clf, p, y, names, collapse)
    if collapse:
        mel = [c for c, n in enumerate(clf.class_names) if n in L_.MELANOMA_NAMES]
        if not mel:
            raise ValueError(f"the model has no melanoma class ({clf.class_names}); cannot score melanoma vs rest")
        pm = p[:, mel].sum(axis=1)
        p = np.stack([1 - pm, pm], axis=1)
    metrics = classification_metrics(y, p, names)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_predictions(out_dir / "predictions.csv", kept, y, p, names)
    plot_confusion(metrics["confusion_matrix"], names, out_dir / "confusion_matrix.png",
                   title=f"{Path(str(data_root)).name} ({split}): accuracy {metrics['accuracy']:.3f}, "
                         f"balanced accuracy {metrics['balanced_accuracy']:.3f}")
    report = {"model": clf.name, "model_files": [str(m.path) for m in members],
              "version": clf.meta.get("version") or (clf.meta.get("info") or {}).get("version"),
              "data": str(data_root), "split": split, "task": task,
              "tta_views": clf.tta_views, "runtime": getattr(clf, "backend_name", None),
              "crop": "segmenter" if clf.cropper is not None else "none",
              "skipped": len(ids) - len(kept), "warning": warning, **metrics, **decided}
    plot_reliability(y, p, out_dir / "reliability.png", title=f"{Path(str(data_root)).name} ({split}): {clf.name}")
    roc = melanoma_roc(y, p, names, out_dir, title=f"{Path(str(data_root)).name} ({split}): melanoma vs. rest")
    if roc is not None:
        report["melanoma_auc"] = roc["auc"]
        report["melanoma_auc_ci95"] = roc["auc_ci95"]
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2))
    print(summary_line(metrics) + (f", melanoma AUC {roc['auc']:.3f}" if roc else "")
          + f", ECE {metrics['ece']:.3f}" + _decision_line(decided), file=sys.stderr)
    return report


def _decision_figures(clf, p: np.ndarray, y: np.ndarray, names: list[str], collapse: bool) -> dict:
    """Prediction-set coverage and triage figures (dermaseg.classify.decisions) of a model that has them."""
    from dermaseg.classify.decisions import decision_metrics

    decisions = getattr(clf, "decisions", None)
    if decisions is None:
        return {}
    if collapse:   # melanoma vs rest: y indexes ("other", "melanoma"); the rule needs the model's classes
        return decision_metrics(p, None, clf.class_names, decisions, positive=y == 1)
    return decision_metrics(p, y, names, decisions)


def _decision_line(decided: dict) -> str:
    parts = []
    if "prediction_sets" in decided:
        s = decided["prediction_sets"]
        parts.append(f"prediction sets: coverage {s['coverage']:.3f} (target {s['coverage_target']:.2f}), "
                     f"mean size {s['mean_size']:.2f}")
    if "triage" in decided and decided["triage"]["sensitivity"] is not None:
        t = decided["triage"]
        spec = f"{t['specificity']:.3f}" if t["specificity"] is not None else "-"
        parts.append(f"triage: melanoma sensitivity {t['sensitivity']:.3f}, specificity {spec}")
    return "".join(f"; {p}" for p in parts)


def melanoma_roc(y: np.ndarray, p: np.ndarray, names: list[str], out_dir: Path, title: str = "") -> dict | None:
    """roc_melanoma.json and roc_melanoma.png when the classes include melanoma and both sides occur."""
    from dermaseg.classify.roc import plot_roc, roc_summary

    mel = [c for c, n in enumerate(names) if n in L_.MELANOMA_NAMES]
    if len(mel) != 1:
        return None
    is_mel = y == mel[0]
    if is_mel.all() or not is_mel.any():
        return None
    summary = roc_summary(is_mel, p[:, mel[0]])
    (out_dir / "roc_melanoma.json").write_text(json.dumps(summary, indent=1))
    plot_roc(summary, out_dir / "roc_melanoma.png", title=title, label="melanoma probability")
    return summary
