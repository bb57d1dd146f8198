"""Cost against accuracy of the shipped classifier's settings: views 1/2/4/8, each member alone
and the pair, ONNX Runtime FP32 and INT8, OpenVINO FP32 and BF16.

    python scripts/classifier_cost_study.py                 # every step; outputs in runs/classifier_cost/
    python scripts/classifier_cost_study.py --steps table   # figures again from the cached probabilities

Steps (each keeps its output, so a rerun goes on where the last stopped):
  quantize  INT8 copies of both members (dermaseg.export.quantize, static QDQ), calibrated on 128
            images of the members' HAM10000 training split (never the validation or test part);
  views     each member's softmax for each of the 8 dihedral views of every image of the HAM10000
            validation (801) and test (2003) splits and the ISIC 2017 held-out part (400, melanoma
            vs. rest), for each runtime and precision (fp32 / int8: ONNX Runtime; openvino-fp32 /
            openvino-bf16: the FP32 file run by OpenVINO), kept in views_<member>_<precision>.npz;
  table     per setting: HAM10000 test accuracy, balanced accuracy, melanoma AUC and ISIC 2017
            balanced accuracy and melanoma AUC, each with the paired 95 % bootstrap interval of
            its difference from the shipped setting (the pair at 8 views, FP32; same images,
            2000 resamples); a pair is calibrated as the shipped ensemble is (temperature,
            prediction sets and triage refitted on the validation split), a member with its own
            logit shift and temperature;
  cost      ms/image of every setting (decoded images in memory, prepare + network on `--threads`
            threads, interleaved rounds, median), as `dermaseg classify predict` spends it.
Writes table.md and study.json beside the cached files. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
MEMBERS = ("ham10000-lite0", "ham10000-lite1")
VIEWS = (1, 2, 4, 8)
PRECISIONS = ("fp32", "int8", "openvino-fp32", "openvino-bf16")
REFERENCE = ("pair", 8, "fp32")


def load_sets(ham: Path, isic: Path) -> dict:
    """{name: (images, truth)}: HAM10000 val/test (class indices) and ISIC 2017 held-out (melanoma 0/1),
    with the ids `dermaseg classify evaluate` scores (the split rebuilt from the first member's file)."""
    from dermaseg.classify import labels as L_
    from dermaseg.classify.evaluate import held_out_ids
    from dermaseg.classify.predict import Classifier
    from dermaseg.data.readers import open_dataset

    first = Classifier(MEMBERS[0])
    info = first.meta.get("info") or {}
    class_map = (info.get("split") or {}).get("class_map") or {}
    sets = {}
    ds = open_dataset(ham)
    records = L_.labelled(ds.records, first.task)
    by_id = {r.image_id: L_.renamed(r, class_map) if class_map else r for r in records}
    for split in ("val", "test"):
        ids, warning = held_out_ids(records, info, split)
        if warning:
            raise SystemExit(f"{ham}: {warning}")
        sets[f"ham_{split}"] = _load(ds, [by_id[i] for i in ids], first.class_names, first.task)
    ds = open_dataset(isic)
    mel_records = {r.image_id: r for r in L_.labelled(ds.records, "melanoma")}
    ids, warning = held_out_ids(L_.labelled(ds.records, first.task), info, "test")
    if warning:
        raise SystemExit(f"{isic}: {warning}")
    sets["isic_test"] = _load(ds, [mel_records[i] for i in ids if i in mel_records], list(L_.BINARY_CLASSES),
                              "melanoma")
    return sets


def _load(ds, records, names, task):
    from dermaseg.classify import labels as L_

    images, kept = [], []
    for r in records:
        sample = ds.try_load(r)
        if sample is not None:
            images.append(sample.image)
            kept.append(r)
    return images, np.array(L_.targets(kept, names, task))


def member_file(out: Path, member: str, precision: str) -> Path:
    from dermaseg.core.zoo import resolve

    source = resolve(member, "classification").path
    return out / f"{source.stem}.int8.onnx" if precision == "int8" else source


def runtime(precision: str) -> dict:
    """Classifier keyword arguments that run a file at `precision`."""
    if precision.startswith("openvino-"):
        return {"backend": "openvino", "precision": precision.removeprefix("openvino-")}
    return {"backend": "onnx"}


def quantize(out: Path, ham: Path, n: int) -> None:
    from dermaseg.classify import labels as L_
    from dermaseg.classify.evaluate import held_out_ids
    from dermaseg.classify.predict import Classifier
    from dermaseg.data.readers import open_dataset
    from dermaseg.export.quantize import quantize_int8
    from dermaseg.transforms.pipeline import normalise_image

    ds = open_dataset(ham)
    for member in MEMBERS:
        target = member_file(out, member, "int8")
        if target.is_file():
            continue
        clf = Classifier(member)
        records = L_.labelled(ds.records, clf.task)
        train, _ = held_out_ids(records, clf.meta.get("info") or {}, "train")
        by_id = {r.image_id: r for r in records}
        picked = np.random.default_rng(0).choice(len(train), size=min(n, len(train)), replace=False)
        images = [s.image for s in (ds.try_load(by_id[train[i]]) for i in sorted(picked)) if s is not None]
        x = np.stack([normalise_image(clf.prepare(im), clf.pipeline.normalise) for im in images])
        quantize_int8(clf.path, target, [x[s:s + 32] for s in range(0, len(x), 32)])
        print(f"{target}: INT8 from {len(x)} training-split images", file=sys.stderr)


def compute_views(out: Path, sets: dict, threads: int) -> None:
    from dermaseg.classify.inference import predict_views_onnx
    from dermaseg.classify.predict import Classifier

    for member in MEMBERS:
        for precision in PRECISIONS:
            target = out / f"views_{member}_{precision}.npz"
            if target.is_file():
                continue
            clf = Classifier(member_file(out, member, precision), threads=threads, **runtime(precision))
            arrays = {}
            for name, (images, _) in sets.items():
                start = time.perf_counter()
                prepared = [clf.prepare(im) for im in images]
                arrays[name] = predict_views_onnx(clf.session, prepared, clf.pipeline.normalise, 8).astype(np.float32)
                print(f"{member} {precision} {name}: {len(images)} images x 8 views in "
                      f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
            np.savez(target, **arrays)


def settings() -> list[tuple]:
    return [(who, v, precision) for precision in PRECISIONS for who in ("lite0", "lite1", "pair") for v in VIEWS]


def probabilities(out: Path, sets: dict) -> dict:
    """{setting: {set name: (n, k) probabilities}} as the shipped classifier would give them."""
    from dermaseg.classify.decisions import adjust, fit_decisions
    from dermaseg.classify.predict import Classifier

    members = {m: Classifier(m) for m in MEMBERS}
    names = members[MEMBERS[0]].class_names
    views = {(m, p): dict(np.load(out / f"views_{m}_{p}.npz")) for m in MEMBERS for p in PRECISIONS}
    result = {}
    for who, v, precision in settings():
        chosen = MEMBERS if who == "pair" else [f"ham10000-{who}"]
        per_member = [{s: adjust(views[(m, precision)][s][:v].mean(axis=0).astype(np.float64), members[m].shift,
                                 members[m].temperature) for s in sets} for m in chosen]
        probs = {s: np.mean([pm[s] for pm in per_member], axis=0) for s in sets}
        if who == "pair":   # the ensemble's own temperature, refitted on the validation split
            decisions = fit_decisions(probs["ham_val"], sets["ham_val"][1], names, ensemble=True)
            probs = {s: decisions.calibrate(p) for s, p in probs.items()}
        result[(who, v, precision)] = probs
    return result


def figures(p: dict, sets: dict, names: list[str], rows=None) -> dict:
    """The figures of one setting on the test sets (rows: a bootstrap resample of each set's images)."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    mel = names.index("mel")
    rows = rows or {s: slice(None) for s in sets}
    y, q = sets["ham_test"][1][rows["ham_test"]], p["ham_test"][rows["ham_test"]]
    out = {"ham_accuracy": float((q.argmax(1) == y).mean()),
           "ham_balanced_accuracy": float(balanced_accuracy_score(y, q.argmax(1))),
           "ham_melanoma_auc": float(roc_auc_score(y == mel, q[:, mel]))}
    y, q = sets["isic_test"][1][rows["isic_test"]], p["isic_test"][rows["isic_test"]][:, mel]
    out.update(isic_balanced_accuracy=float(balanced_accuracy_score(y, q > 0.5)),
               isic_melanoma_auc=float(roc_auc_score(y, q)))
    return out


def table(out: Path, sets: dict, resamples: int) -> dict:
    from dermaseg.classify.predict import Classifier

    names = Classifier(MEMBERS[0]).class_names
    probs = probabilities(out, sets)
    rng = np.random.default_rng(0)
    draws = [{s: rng.integers(0, len(sets[s][1]), len(sets[s][1])) for s in ("ham_test", "isic_test")}
             for _ in range(resamples)]
    reference = [figures(probs[REFERENCE], sets, names, d) for d in draws]
    # the test split's noise: half the width of the shipped setting's own 95 % interval, per figure
    noise = {f: float(np.diff(np.percentile([r[f] for r in reference], [2.5, 97.5]))[0] / 2) for f in reference[0]}
    rows = {}
    for key, p in probs.items():
        point = figures(p, sets, names)
        boot = [figures(p, sets, names, d) for d in draws] if key != REFERENCE else reference
        diff = {f: np.percentile([b[f] - r[f] for b, r in zip(boot, reference)], [2.5, 97.5]).tolist() for f in point}
        rows[key] = {"figures": point, "difference_ci95": diff, "noise": noise,
                     # non-inferiority: no paired interval reaches further below zero than that noise
                     "within_noise": all(diff[f][0] >= -noise[f] for f in point),
                     # stricter: no figure significantly worse at all
                     "not_worse": all(hi >= 0 for _, hi in diff.values())}
        print(f"{key}: " + ", ".join(f"{f} {v:.3f} [{diff[f][0]:+.3f}, {diff[f][1]:+.3f}]" for f, v in point.items()),
              file=sys.stderr)
    return rows


def cost(out: Path, n: int, rounds: int, threads: int) -> dict:
    from dermaseg.classify.predict import load_classifier

    ham = sorted((DATA / "ham10000").rglob("ISIC_*.jpg"))[:n]
    import cv2

    images = [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in ham]
    models = {}
    for who, v, precision in settings():
        files = [member_file(out, m, precision) for m in (MEMBERS if who == "pair" else [f"ham10000-{who}"])]
        models[(who, v, precision)] = load_classifier([str(f) for f in files], tta_views=v, threads=threads,
                                                      **runtime(precision))
    for c in models.values():
        c.predict_proba(images[:8])   # first-run allocations out of the timing
    times = {k: [] for k in models}
    for _ in range(rounds):
        for key, c in models.items():
            start = time.perf_counter()
            c.predict_proba(images)
            times[key].append((time.perf_counter() - start) * 1000 / len(images))
    return {k: statistics.median(t) for k, t in times.items()}


def write_report(out: Path, rows: dict, ms: dict | None, args) -> None:
    base = ms[REFERENCE] if ms else None
    lines = [f"Settings of the shipped classifier (`python scripts/classifier_cost_study.py`, {platform.machine()}, "
             f"{args.threads} threads). Each figure: the value, then the paired 95 % bootstrap interval of its "
             "difference from the pair at 8 views, FP32 (HAM10000 test split, 2003 images; ISIC 2017 held-out, "
             "400, melanoma vs. rest).", "",
             "| members | views | precision | ms/image | HAM acc. | HAM bal. acc. | HAM mel. AUC | ISIC bal. acc. | "
             "ISIC mel. AUC | within noise | none worse |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, row in rows.items():
        who, v, precision = key
        cells = [f"{row['figures'][f]:.3f} [{lo:+.3f}, {hi:+.3f}]" for f, (lo, hi) in row["difference_ci95"].items()]
        cost_cell = f"{ms[key]:.1f}" if ms else "-"
        lines.append(f"| {who} | {v} | {precision} | {cost_cell} | " + " | ".join(cells)
                     + f" | {'yes' if row['within_noise'] else 'no'} | {'yes' if row.get('not_worse') else 'no'} |")
    noise = next(iter(rows.values())).get("noise")
    if noise:
        lines += ["", "Within noise: every paired interval's lower end above minus the test split's noise, half "
                      "the width of the shipped setting's own 95 % interval (" + ", ".join(f"{f} {v:.3f}" for f, v in
                                                                                       noise.items()) + "). "
                      "None worse: every paired interval reaches zero or above."]
    if ms:
        ok = [k for k, r in rows.items() if r["within_noise"]]
        best = min(ok, key=lambda k: ms[k])
        lines += ["", f"Cheapest setting within the noise: {best[0]}, {best[1]} view(s), {best[2]}: "
                      f"{ms[best]:.1f} ms/image against {base:.1f} ({base / ms[best]:.1f}x cheaper)."]
        # OpenVINO's "auto" runs bfloat16 only where the CPU has it and FP32 elsewhere: a setting
        # shipped that way must hold at both precisions
        both = [k for k in ok if k[2] == "openvino-bf16" and rows.get((k[0], k[1], "openvino-fp32"), {}).get("within_noise")]
        if both:
            best = min(both, key=lambda k: ms[k])
            fp32 = (best[0], best[1], "openvino-fp32")
            lines += ["", f"Cheapest OpenVINO setting within the noise at both of its automatic precisions: {best[0]}, "
                          f"{best[1]} view(s): {ms[best]:.1f} ms/image in bf16, {ms[fp32]:.1f} in fp32, against "
                          f"{base:.1f} ({base / ms[best]:.1f}x cheaper in bf16)."]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    study = {"rows": [{"members": k[0], "views": k[1], "precision": k[2], **r, "ms_per_image": (ms or {}).get(k)}
                      for k, r in rows.items()], "threads": args.threads}
    (out / "study.json").write_text(json.dumps(study, indent=1))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "runs" / "classifier_cost"))
    parser.add_argument("--ham", default=str(DATA / "ham10000"))
    parser.add_argument("--isic", default=str(DATA / "isic2017"))
    parser.add_argument("--steps", nargs="+", default=["quantize", "views", "table", "cost"],
                        choices=["quantize", "views", "table", "cost", "report"],
                        help="report: table.md again from study.json, nothing measured")
    parser.add_argument("--calibration-images", type=int, default=128)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cost-images", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if "quantize" in args.steps:
        quantize(out, Path(args.ham), args.calibration_images)
    sets = load_sets(Path(args.ham), Path(args.isic)) if {"views", "table"} & set(args.steps) else None
    if "views" in args.steps:
        compute_views(out, sets, args.threads)
    rows = table(out, sets, args.resamples) if "table" in args.steps else None
    saved = json.loads((out / "study.json").read_text())["rows"] if (out / "study.json").is_file() else []
    saved = {(r["members"], r["views"], r["precision"]): r for r in saved}
    if "cost" in args.steps:
        ms = cost(out, args.cost_images, args.rounds, args.threads)
    else:   # the last measured cost
        ms = {k: r["ms_per_image"] for k, r in saved.items() if r.get("ms_per_image")} or None
    rows = rows or saved or None
    if rows is not None:
        write_report(out, rows, ms, args)


if __name__ == "__main__":
    main()
