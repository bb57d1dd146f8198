"""Make a classification run's (calibrated) model a shipped classifier, or write a shipped ensemble.

    python scripts/ship_classifier.py runs/classify_ham_isic2017_lite0_finetune/model_calibrated.pt \
        --name ham10000-lite0 --test-metrics runs/eval_cls/shipped_030_test/metrics.json \
        --cross-metrics runs/eval_cls/shipped_030_isic2017_test/metrics.json --version 0.3.0

writes the weights file of the shipped name (`dermaseg.core.zoo`; here
src/dermaseg/weights/classifier_ham10000_lite0.pt, fp16 weights as the run saved them) with
provenance: recipe, training data, commit, hardware, and the figures measured by
`dermaseg classify evaluate` from the raw images: the held-out HAM10000 test split and, when
given, the cross-dataset melanoma check. `dermaseg serve`'s /v1/models and the ONNX file then
report what was measured. Then regenerate its ONNX file:
`dermaseg export --model ham10000-lite0 --out src/dermaseg/weights/classifier_ham10000_lite0.onnx`.

    python scripts/ship_classifier.py --ensemble ham10000-lite0 ham10000-lite1 --name ham10000-ensemble \
        --test-metrics runs/eval_cls/ensemble_lite1zh_030_test/metrics.json --version 0.4.0 ...

writes the shipped ensemble's JSON file instead: its shipped members, version, provenance and
the figures measured (`dermaseg classify ensemble` from the members' predictions, or
`dermaseg classify evaluate` of the ensemble file); `--decisions` carries the temperature,
prediction-set and triage thresholds `dermaseg classify calibrate` fitted for it.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from dermaseg.classify.modelfile import read_classifier, write_classifier
from dermaseg.core.provenance import source_commit
from dermaseg.core.zoo import SHIPPED
HEADLINE = ("n", "accuracy", "balanced_accuracy", "macro_f1", "macro_auc", "melanoma_auc", "ece")


def _figures(path: str, description: str, split: str | None = None) -> dict:
    """Headline figures of a metrics.json; split: the one named, else the file's own (else "all")."""
    metrics = _with_members_settings(json.loads(Path(path).read_text()))
    figures = {"split": split or metrics.get("split") or "all", "description": description,
               **{k: metrics[k] for k in HEADLINE if metrics.get(k) is not None},
               "tta_views": metrics.get("tta_views"), "runtime": metrics.get("runtime"), "data": metrics.get("data")}
    if metrics.get("prediction_sets"):   # a model with fitted decisions (dermaseg.classify.decisions)
        sets = metrics["prediction_sets"]
        figures["prediction_sets"] = {k: sets[k] for k in ("coverage_target", "coverage", "mean_size")}
    if metrics.get("triage"):
        figures["triage"] = {k: metrics["triage"][k] for k in ("rule", "n_positive", "sensitivity", "specificity")}
    return figures


def _with_members_settings(metrics: dict) -> dict:
    """`classify ensemble` scores predictions files: take the split, views and data it does not
    record from the members' own metrics.json beside them, where all members agree."""
    members = [Path(m).parent / "metrics.json" for m in metrics.get("members") or []]
    if not members or not all(m.is_file() for m in members):
        return metrics
    theirs = [json.loads(m.read_text()) for m in members]
    for key in ("split", "tta_views", "data"):
        values = {json.dumps(t.get(key)) for t in theirs}
        if metrics.get(key) is None and len(values) == 1:
            metrics[key] = theirs[0].get(key)
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="the run's model file (after `dermaseg classify calibrate`)")
    parser.add_argument("--ensemble", nargs="+", default=None, metavar="NAME",
                        help="write a shipped ensemble of these shipped classifiers instead of a model file")
    parser.add_argument("--test-metrics", required=True, help="metrics.json of `classify evaluate` on the test split")
    parser.add_argument("--cross-metrics", default=None, help="metrics.json of the cross-dataset melanoma check")
    parser.add_argument("--cross-description", default="ISIC 2017 training set, melanoma vs. rest",
                        help="what --cross-metrics scored")
    parser.add_argument("--version", required=True)
    parser.add_argument("--name", required=True, help="the shipped name (dermaseg.core.zoo)")
    parser.add_argument("--recipe", default=None, help="the training config (default: the shipped name's)")
    parser.add_argument("--training-data", default="HAM10000 (lesion-grouped 80:20 split, 10% of the training "
                        "part for validation); CC BY-NC 4.0")
    parser.add_argument("--hardware", default=f"{platform.machine()} CPU, {platform.processor() or 'unknown'}")
    parser.add_argument("--training-commit", default=None, help="the commit the run trained with (default: HEAD)")
    parser.add_argument("--out", default=None, help="default: the shipped name's file in src/dermaseg/weights")
    parser.add_argument("--decisions", default=None,
                        help="an ensemble file written by `dermaseg classify calibrate`: its fitted temperature, "
                             "prediction-set and triage thresholds go into the shipped ensemble")
    parser.add_argument("--tta-views", type=int, default=None,
                        help="an ensemble's own number of test-time views for every member (default: each member's)")
    parser.add_argument("--runtime", default=None, choices=["openvino"],
                        help="an ensemble's runtime: its members run by OpenVINO at --precision unless the user "
                             "chooses (default: ONNX Runtime)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = parser.parse_args(argv)
    if args.name not in SHIPPED:
        parser.error(f"--name {args.name!r}: not a shipped name in dermaseg.core.zoo ({', '.join(SHIPPED)})")
    if (args.model is None) == (args.ensemble is None):
        parser.error("give either a model file or --ensemble NAME NAME ...")
    entry = SHIPPED[args.name]
    out = Path(args.out) if args.out else entry.torch_path

    held_out = _figures(args.test_metrics, "HAM10000 lesion-grouped test split (never used for choices)", "test")
    about = {
        "name": args.name, "version": args.version, "recipe_file": args.recipe or entry.recipe,
        "training_data": args.training_data,
        "commit": args.training_commit or source_commit(), "hardware": args.hardware,
    }
    if args.cross_metrics:
        about["cross_dataset"] = _figures(args.cross_metrics, args.cross_description)
    if args.ensemble:
        unknown = [m for m in args.ensemble if m not in SHIPPED or SHIPPED[m].is_ensemble]
        if unknown or len(args.ensemble) < 2:
            parser.error(f"--ensemble: two or more shipped single models (not: {', '.join(unknown) or 'one'})")
        about["description"] = entry.description
        ensemble = {"name": args.name, "members": args.ensemble, "info": about, "held_out": held_out}
        if args.tta_views is not None:
            ensemble["tta_views"] = args.tta_views
        if args.runtime:
            ensemble["runtime"] = {"backend": args.runtime, "precision": args.precision}
        if args.decisions:
            ensemble["decisions"] = json.loads(Path(args.decisions).read_text())["decisions"]
        out.write_text(json.dumps(ensemble, indent=2) + "\n")
    else:
        raw = read_classifier(args.model)
        raw["info"] = {**raw["info"], **about, "held_out": held_out}
        write_classifier(out, raw)
    print(f"shipped {args.name} {args.version} -> {out} (test accuracy {held_out['accuracy']:.4f}, "
          f"balanced accuracy {held_out['balanced_accuracy']:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
