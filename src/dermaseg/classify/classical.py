"""Classical baselines: hand-crafted features with scikit-learn SVM, k-NN and random forest.

    dermaseg classify classical --data ../shared/data/ham10000 --out runs/classical

The split is the classifier's own (`classify.train.select_records` / `split_mapping` with the
recipe's ratios, grouping and seeds): the same held-out test images. The estimators have no
epoch to choose, so they fit on the training and validation parts together and are scored on
the test part. Features (`classify.handcrafted`) are computed on the mask that the
segmentation model predicts, never the dataset's own masks, so the pipeline is what a user
would run. Each image's vector is cached as one small file (written atomically) keyed by the
feature version, size and segmentation model: an interrupted run resumes, a re-run only fits.

Writes results.csv / results.md (accuracy, balanced accuracy, macro F1, macro AUC, feature
seconds per image, fit seconds per estimator and feature set), metrics.json (per class) and
predictions_<estimator>_<features>.csv.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from dermaseg.classify.handcrafted import FEATURE_NAMES, feature_groups, lesion_features
from dermaseg.core.cache import digest, save_arrays

FEATURE_VERSION = 1
ESTIMATORS = ("svm", "knn", "rf")
ESTIMATOR_NAMES = {"svm": "SVM (RBF kernel, C=1, balanced class weights)",
                   "knn": "k-NN (k=15, distance-weighted)",
                   "rf": "Random forest (300 trees, balanced class weights)"}
FEATURE_SETS = {"all": ("glcm", "hist", "moment", "abcd"), "texture": ("glcm",), "colour": ("hist", "moment"),
                "abcd": ("abcd",)}


# --- features, cached per image ------------------------------------------------------------------

def cache_folder(cache_dir: Path | str, segmenter_name: str, segmenter_version: str, max_side: int) -> Path:
    parts = {"v": FEATURE_VERSION, "n": len(FEATURE_NAMES), "segmenter": segmenter_name,
             "segmenter_version": segmenter_version, "max_side": int(max_side)}
    return Path(cache_dir) / "handcrafted" / digest(parts)


def extract_features(dataset, records, segmenter, folder: Path, *, max_side: int = 200, batch_size: int = 16,
                     progress: bool = True) -> list[str]:
    """Compute and cache the vectors of `records` not yet in `folder`; returns the ids that failed.

    Per image the cache keeps the vector, the wall and CPU seconds it cost (decoding, the
    segmentation model's share of its batch, the features) and the 1-minute load average at the
    time: on a shared machine the wall time says more about the neighbours than the method.
    """
    from dermaseg.data.loading import from_array

    folder.mkdir(parents=True, exist_ok=True)
    todo = [r for r in records if not (folder / f"{r.image_id}.npz").is_file()]
    failed: list[str] = []
    done, started = 0, time.perf_counter()
    for s in range(0, len(todo), batch_size):
        chunk, images, decode_s = [], [], []
        for record in todo[s:s + batch_size]:
            t0, c0 = time.perf_counter(), time.process_time()
            sample = dataset.try_load(record)        # a bad file warns (names it) and is skipped
            if sample is None:
                failed.append(record.image_id)
                continue
            chunk.append(record)
            images.append(sample.image)
            decode_s.append((time.perf_counter() - t0, time.process_time() - c0))
        if not chunk:
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        results = segmenter.segment_batch([from_array(im) for im in images])
        segment_s = (time.perf_counter() - t0) / len(chunk)
        segment_cpu = (time.process_time() - c0) / len(chunk)
        for record, image, result, dec in zip(chunk, images, results, decode_s):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                vector = lesion_features(image, result.mask, max_side)
            except ValueError as exc:
                print(f"dermaseg: warning: {record.image_path}: features failed ({exc}); skipped", file=sys.stderr)
                failed.append(record.image_id)
                continue
            seconds = dec[0] + segment_s + time.perf_counter() - t0
            cpu = dec[1] + segment_cpu + time.process_time() - c0
            save_arrays(folder / f"{record.image_id}.npz", features=vector, seconds=np.float64(seconds),
                  cpu_seconds=np.float64(cpu), load1=np.float64(os.getloadavg()[0]))
        done += len(chunk)
        if progress and (s // batch_size) % 20 == 0:
            rate = done / max(time.perf_counter() - started, 1e-9)
            print(f"features: {done}/{len(todo)} new images ({rate:.1f}/s)", file=sys.stderr, flush=True)
    return failed


def load_features(folder: Path, ids: list[str]) -> tuple[list[str], np.ndarray, dict]:
    """(ids found, X (n, features), per-image costs: wall seconds, CPU seconds (NaN where the
    cache file predates that field), load average) from the cache."""
    kept, rows, seconds, cpu, load = [], [], [], [], []
    for image_id in ids:
        path = folder / f"{image_id}.npz"
        if not path.is_file():
            continue
        try:
            with np.load(path) as z:
                rows.append(z["features"])
                seconds.append(float(z["seconds"]))
                cpu.append(float(z["cpu_seconds"]) if "cpu_seconds" in z.files else float("nan"))
                load.append(float(z["load1"]))
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{path}: unreadable feature cache file ({exc}); delete it to recompute") from None
        kept.append(image_id)
    X = np.stack(rows) if rows else np.zeros((0, len(FEATURE_NAMES)))
    costs = {"seconds": np.asarray(seconds), "cpu_seconds": np.asarray(cpu), "load1": np.asarray(load)}
    return kept, X, costs


# --- estimators ----------------------------------------------------------------------------------

def make_estimator(name: str, seed: int = 0):
    """A scikit-learn pipeline: standardised features, then the estimator (fixed, stated settings)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if name == "svm":
        model = SVC(kernel="rbf", C=1.0, gamma="scale", class_weight="balanced", random_state=seed)
    elif name == "knn":
        model = KNeighborsClassifier(n_neighbors=15, weights="distance")   # k-NN takes no class weights
    elif name == "rf":
        model = RandomForestClassifier(n_estimators=300, min_samples_leaf=2, class_weight="balanced_subsample",
                                       n_jobs=1, random_state=seed)
    else:
        raise ValueError(f"unknown estimator {name!r}; choose from {', '.join(ESTIMATORS)}")
    return make_pipeline(StandardScaler(), model)


def class_scores(estimator, X: np.ndarray, num_classes: int) -> np.ndarray:
    """(n, num_classes) scores whose arg-max is the prediction: probabilities, or for the SVM the
    softmax of its one-vs-rest decision values (fine for ranking, i.e. AUC; not calibrated)."""
    classes = estimator.classes_
    if hasattr(estimator, "predict_proba") and not hasattr(estimator[-1], "decision_function"):
        raw = estimator.predict_proba(X)
    else:
        d = estimator.decision_function(X)
        d = d if d.ndim == 2 else np.stack([-d, d], axis=1)
        e = np.exp(d - d.max(axis=1, keepdims=True))
        raw = e / e.sum(axis=1, keepdims=True)
    out = np.zeros((len(X), num_classes))
    out[:, classes] = raw            # a class missing from the training part keeps score 0
    return out


# --- the run -------------------------------------------------------------------------------------

def run_classical(config: dict, out_dir: Path | str, *, max_side: int = 200, estimators=ESTIMATORS,
                  feature_sets=("all",), segmenter: str | None = None, cache_dir: Path | str | None = None,
                  max_images: int | None = None, extract_only: bool = False, threads: int | None = 1,
                  progress: bool = True):
    """Features for the split's images, then every estimator x feature set; returns the results table."""
    import pandas as pd

    from dermaseg.classify.metrics import classification_metrics
    from dermaseg.classify.predictions import write_predictions
    from dermaseg.classify.splits import select_records, split_mapping

    for name in estimators:
        if name not in ESTIMATORS:
            raise ValueError(f"unknown estimator {name!r}; choose from {', '.join(ESTIMATORS)}")
    for name in feature_sets:
        if name not in FEATURE_SETS:
            raise ValueError(f"unknown feature set {name!r}; choose from {', '.join(FEATURE_SETS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset, records, names = select_records(config)
    mapping = split_mapping(config, records)
    d = config["data"]
    # a seeded order: features fill the cache in it, and --max-images takes its head, so a
    # partial run is a random subset of the same split (both sides), not its first files
    order = np.random.default_rng(int(config["seed"])).permutation(len(records))
    chosen = [records[i] for i in order if records[i].image_id in mapping]
    if max_images:
        chosen = chosen[:int(max_images)]

    from dermaseg.segment.segmenter import Segmenter   # loads the model file: once, here

    seg = Segmenter(segmenter, threads=threads)
    folder = cache_folder(cache_dir or d["cache_dir"], seg.name, seg.version, max_side)
    t0 = time.perf_counter()
    failed = extract_features(dataset, chosen, seg, folder, max_side=max_side, progress=progress)
    extract_wall = time.perf_counter() - t0
    (folder / "features.json").write_text(json.dumps(
        {"feature_names": FEATURE_NAMES, "version": FEATURE_VERSION, "max_side": max_side,
         "segmenter": seg.name, "segmenter_version": seg.version}, indent=1))
    if extract_only:
        print(f"features cached in {folder} ({len(chosen) - len(failed)} images, {len(failed)} failed)",
              file=sys.stderr)
        return None

    by_id = {r.image_id: r for r in records}
    from dermaseg.classify import labels as L_

    ids, X, costs = load_features(folder, [r.image_id for r in chosen])
    cpu_known = costs["cpu_seconds"][np.isfinite(costs["cpu_seconds"])]
    cost = {"feature_s_per_image": float(costs["seconds"].mean()),
            "feature_cpu_s_per_image": float(cpu_known.mean()) if len(cpu_known) else None,
            "cpu_measured_on": int(len(cpu_known)), "load1_during_features": float(costs["load1"].mean())}
    y = np.asarray(L_.targets([by_id[i] for i in ids], names, d["task"]))
    part = np.asarray([mapping[i] for i in ids])
    train = np.isin(part, ["train", "val"])
    test = part == "test"
    if train.sum() == 0 or test.sum() == 0:
        raise ValueError(f"{d['root']}: the split leaves {int(train.sum())} training and {int(test.sum())} test images")
    groups = feature_groups()
    rows, metrics_all = [], {}
    for fs in feature_sets:
        cols = sorted(c for g in FEATURE_SETS[fs] for c in groups[g])
        for name in estimators:
            est = make_estimator(name, int(config["seed"]))
            t1, c1 = time.perf_counter(), time.process_time()
            est.fit(X[train][:, cols], y[train])
            fit_s, fit_cpu_s = time.perf_counter() - t1, time.process_time() - c1
            t1 = time.perf_counter()
            scores = class_scores(est, X[test][:, cols], len(names))
            predict_s = time.perf_counter() - t1
            m = classification_metrics(y[test], scores, names)
            tag = f"{name}_{fs}"
            metrics_all[tag] = m
            write_predictions(out_dir / f"predictions_{tag}.csv", list(np.asarray(ids)[test]), y[test], scores, names)
            rows.append({"estimator": name, "features": fs, "n_features": len(cols), "n_train": int(train.sum()),
                         "n_test": int(test.sum()), "accuracy": m["accuracy"],
                         "balanced_accuracy": m["balanced_accuracy"], "macro_f1": m["macro_f1"],
                         "macro_auc": m["macro_auc"], "feature_s_per_image": cost["feature_s_per_image"],
                         "feature_cpu_s_per_image": cost["feature_cpu_s_per_image"], "fit_s": fit_s,
                         "fit_cpu_s": fit_cpu_s, "predict_s_per_image": predict_s / max(1, int(test.sum()))})
            print(f"{tag}: accuracy {m['accuracy']:.3f}, balanced accuracy {m['balanced_accuracy']:.3f}, "
                  f"macro F1 {m['macro_f1']:.3f} (fit {fit_s:.1f} s, {fit_cpu_s:.1f} s CPU)", file=sys.stderr,
                  flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(out_dir / "results.csv", index=False)
    info = {"data": str(d["root"]), "split": {"ratios": str(d["ratios"]), "mode": d["split"],
                                              "split_seed": int(d["split_seed"]), "val_fraction": d["val_fraction"],
                                              "fit_on": "train+val", "scored_on": "test"},
            "images": len(chosen), "subset": bool(max_images), "failed": failed, "n_train": int(train.sum()),
            "n_test": int(test.sum()), "classes": names, "segmenter": seg.name, "segmenter_version": seg.version,
            "max_side": max_side, "feature_cache": str(folder), "extract_wall_s": extract_wall, **cost,
            "load1_at_fit": os.getloadavg()[0], "cpus": os.cpu_count(), "estimators": ESTIMATOR_NAMES}
    (out_dir / "metrics.json").write_text(json.dumps({"run": info, "results": metrics_all}, indent=1))
    (out_dir / "results.md").write_text(results_markdown(df, info))
    return df


def results_markdown(df, info: dict) -> str:
    lines = [f"# Classical baselines on {Path(info['data']).name}\n",
             f"Lesion-grouped split {info['split']['ratios']} (seed {info['split']['split_seed']}): fit on the "
             f"training and validation parts ({info['n_train']} images), scored on the test part ({info['n_test']} images)"
             + (" — a random subset of the split" if info["subset"] else "") + ". "
             f"Masks from `{info['segmenter']}` ({info['segmenter_version']}); features at long side "
             f"<= {info['max_side']} px. Decoding, segmentation and features per image: "
             f"{info['feature_s_per_image']:.3f} s wall"
             + (f", {info['feature_cpu_s_per_image']:.3f} s CPU (measured on {info['cpu_measured_on']} images)"
                if info["feature_cpu_s_per_image"] is not None else "")
             + f"; 1-min load average {info['load1_during_features']:.1f} on {info['cpus']} CPUs while they ran, "
             f"{info['load1_at_fit']:.1f} at the end of fitting.\n",
             "| estimator | features | n features | accuracy | balanced accuracy | macro F1 | macro AUC "
             "| fit s (wall / CPU) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for _, r in df.iterrows():
        auc = f"{r['macro_auc']:.3f}" if r["macro_auc"] == r["macro_auc"] and r["macro_auc"] is not None else "—"
        lines.append(f"| {ESTIMATOR_NAMES[r['estimator']]} | {r['features']} | {r['n_features']} | "
                     f"{r['accuracy']:.3f} | {r['balanced_accuracy']:.3f} | {r['macro_f1']:.3f} | {auc} | "
                     f"{r['fit_s']:.1f} / {r['fit_cpu_s']:.1f} |")
    return "\n".join(lines) + "\n"
