"""`dermaseg classify train|evaluate|predict|calibrate|classical|roc|ensemble|compare|experiment`."""

from __future__ import annotations

import sys
from pathlib import Path

from dermaseg.core.cliutil import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_SKIPPED,
    EXIT_USAGE,
    HelpFormatter,
    add_accept_any_image_option,
    add_overwrite_option,
    add_recipe_arguments,
    add_runtime_options,
    refuse_to_replace,
    runtime_options,
)
from dermaseg.core.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "classify", help="lesion diagnosis: train, evaluate or run a classifier",
        description="Classify dermoscopic lesions (HAM10000's seven classes, ISIC 2017's three, PH2's three, "
                    "or melanoma vs. rest).")
    sub = p.add_subparsers(dest="classify_command", metavar="ACTION")

    t = sub.add_parser("train", help="train a classifier from a YAML recipe",
                       description="Train a classifier. Recipes live in configs/classify_*.yaml; any key can be "
                                   "overridden as key.sub=value (e.g. train.sampling=oversample data.ratios=70:30).",
                       formatter_class=HelpFormatter)
    add_recipe_arguments(t)
    t.set_defaults(func=_train)

    e = sub.add_parser("evaluate", help="score a classifier on labelled data",
                       description="Score a classifier file on labelled data, from the raw images. By default the "
                                   "held-out test split recorded in the model file is rebuilt and scored.",
                       epilog=EXIT_CODES_HELP, formatter_class=HelpFormatter)
    e.add_argument("--model", action="append", default=None,
                   help="classifier file or shipped name (default: the shipped one); repeat it to score "
                        "an ensemble, the mean of the models' probabilities")
    e.add_argument("--data", required=True, help="dataset root (any layout dermaseg reads)")
    e.add_argument("--split", default="test", help="split to score: test, val, train, or all")
    e.add_argument("--split-file", default=None, help="CSV image_id,split (instead of the model's own split)")
    e.add_argument("--task", default=None, choices=["auto", "melanoma"],
                   help="melanoma: score as melanoma vs. rest (default: the model's task)")
    e.add_argument("--tta", type=int, default=None, metavar="N",
                   help="test-time augmentation: dihedral views averaged, 1-8 (default: the model's)")
    e.add_argument("--crop", default="model", choices=["model", "none", "segmenter"],
                   help="crop to the lesion with the segmentation model first")
    e.add_argument("--segmenter", default=None, help="segmentation model for --crop segmenter")
    e.add_argument("--out", default="classify_evaluation", help="output folder")
    add_overwrite_option(e, "an earlier evaluation in --out")
    e.add_argument("--threads", type=int, default=None, help="CPU threads for the networks")
    add_runtime_options(e)
    e.set_defaults(func=_evaluate)

    r = sub.add_parser("predict", help="classify images (shipped classifier by default)",
                       description="Classify images or folders of images. Writes <out>/classification.csv with "
                                   "image_id, image_kind (dermoscopy, clinical or other) and image_kind_score, "
                                   "predicted, one calibrated prob_<class> column per class, prediction_set (the "
                                   "classes that together hold the true one 90% of the time on the model's test "
                                   "population), triage (refer or routine, set for 90% melanoma sensitivity), path "
                                   "and warning (why a prediction should not be trusted: a clinical photograph, no "
                                   "lesion found, too dark, blurry, tiny); an image of kind other is not classified "
                                   "(see --accept-any-image). Every column: docs/measurements.md. Also writes "
                                   "classification.json listing skipped files with the reason.",
                       epilog=EXIT_CODES_HELP, formatter_class=HelpFormatter)
    r.add_argument("paths", nargs="+", metavar="IMAGE|FOLDER")
    r.add_argument("--model", action="append", default=None,
                   help="classifier file or shipped name (default: the shipped one); repeat it to predict "
                        "with an ensemble, the mean of the models' probabilities")
    r.add_argument("--out", default="predictions", help="output folder")
    r.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="a Dask scheduler (tcp://host:8786): its workers classify the images; inputs and --out must be "
                        "on storage every worker sees (pip install -e \".[cluster]\")")
    r.add_argument("--overwrite", action="store_true",
                   help="replace classification.csv/.json an earlier run left in --out; without it such an --out is refused")
    r.add_argument("--tta", type=int, default=None, metavar="N",
                   help="test-time augmentation: dihedral views averaged, 1-8 (default: the model's)")
    r.add_argument("--crop", default="model", choices=["model", "none", "segmenter"],
                   help="crop to the lesion with the segmentation model first")
    r.add_argument("--segmenter", default=None, help="segmentation model for --crop segmenter")
    r.add_argument("--threads", type=int, default=None, help="CPU threads for the networks")
    add_runtime_options(r)
    r.add_argument("--no-lesion-check", action="store_true",
                   help="do not run the segmentation model to flag images where no lesion is found")
    add_accept_any_image_option(r, "classify")
    r.set_defaults(func=_predict)

    c = sub.add_parser("calibrate", help="tune confidence, prediction sets and the triage point on the validation "
                                         "split",
                       description="Shift the logits by -tau * log(training prior), tau chosen on the model's own "
                                   "validation split (rebuilt from the model file) to maximise the mean of accuracy "
                                   "and balanced accuracy; then divide them by a temperature fitted on the same split "
                                   "(lowest negative log-likelihood: confidence that matches accuracy, reported as "
                                   "the expected calibration error before and after). On the same split, fit the "
                                   "prediction-set threshold (split conformal, 90% coverage) and the triage threshold "
                                   "(refer at 90% melanoma sensitivity). An ensemble file (.json) gets its own "
                                   "temperature on the members' mean and its own thresholds. Writes a new model "
                                   "file; the test split is not touched.",
                       formatter_class=HelpFormatter)
    c.add_argument("--model", required=True, help="classifier file, or an ensemble file / shipped ensemble name")
    c.add_argument("--data", required=True, help="the dataset the model was trained on")
    c.add_argument("--out", required=True, help="calibrated model file to write")
    add_overwrite_option(c, "an existing --out file")
    c.add_argument("--threads", type=int, default=None, help="CPU threads for the network")
    c.set_defaults(func=_calibrate)
    k = sub.add_parser("classical", help="hand-crafted features with SVM, k-NN and random forest (baselines)",
                       description="GLCM texture, colour histograms and moments and ABCD measurements on the mask "
                                   "the segmentation model predicts, with scikit-learn SVM, k-NN and random forest, "
                                   "on the classifier's own split (fit on train+val, scored on test). Features are "
                                   "cached per image in <cache-dir>/handcrafted/: a re-run only fits. Writes "
                                   "results.csv, results.md, metrics.json and per-estimator predictions.",
                       formatter_class=HelpFormatter)
    k.add_argument("--config", default=None, help="recipe whose split to use (default: built-in, 80:20 grouped)")
    k.add_argument("--data", default=None, help="dataset root (default: the recipe's data.root)")
    k.add_argument("--out", default="runs/classical", help="output folder")
    k.add_argument("--estimators", default="svm,knn,rf", help="comma-separated: svm, knn, rf")
    k.add_argument("--feature-sets", default="all", help="comma-separated: all, texture, colour, abcd")
    k.add_argument("--size", type=int, default=200, help="features at long side <= this many pixels")
    k.add_argument("--segmenter", default=None, help="segmentation model for the masks (default: the shipped one)")
    k.add_argument("--cache-dir", default=None, help="feature cache root (default: the recipe's data.cache_dir)")
    k.add_argument("--max-images", type=int, default=None,
                   help="a seeded random subset of the split's images (both sides), for a quick run")
    k.add_argument("--extract-only", action="store_true", help="fill the feature cache, fit nothing")
    k.add_argument("--threads", type=int, default=1, help="segmentation model threads")
    k.add_argument("overrides", nargs="*", metavar="key.sub=value", help="recipe overrides (e.g. data.ratios=70:30)")
    k.set_defaults(func=_classical)
    o = sub.add_parser("roc", help="draw melanoma ROC curves of several evaluations on one chart",
                       description="Overlay the roc_melanoma.json files that classify evaluate writes (e.g. the "
                                   "held-out test split beside another collection) in one PNG.",
                       formatter_class=HelpFormatter)
    o.add_argument("summaries", nargs="+", metavar="ROC_JSON", help="roc_melanoma.json files")
    o.add_argument("--labels", default=None, help="comma-separated curve labels (default: the folder names)")
    o.add_argument("--title", default="", help="chart title (default: none)")
    o.add_argument("--out", required=True, help="PNG to write")
    add_overwrite_option(o, "an existing --out file")
    o.set_defaults(func=_roc)
    n = sub.add_parser("ensemble", help="score the mean of several evaluations' probabilities",
                       description="Average the probabilities in the predictions.csv files that classify evaluate "
                                   "writes (the same images and classes) and score the ensemble.",
                       formatter_class=HelpFormatter)
    n.add_argument("predictions", nargs="+", metavar="PREDICTIONS_CSV", help="predictions.csv files, two or more")
    n.add_argument("--out", required=True, help="folder for metrics.json, predictions.csv and the melanoma ROC")
    add_overwrite_option(n, "an earlier ensemble's files in --out")
    n.set_defaults(func=_ensemble)
    c = sub.add_parser("compare", help="accuracy and balanced accuracy with bootstrap intervals, paired differences",
                       description="For the predictions.csv files of several classify evaluate (or ensemble) runs on "
                                   "the same images: each one's accuracy and balanced accuracy with a 95% bootstrap "
                                   "interval, and each later one's paired difference from the first. With --data, "
                                   "images of one lesion (HAM10000 lesion_id) are resampled together.",
                       formatter_class=HelpFormatter)
    c.add_argument("predictions", nargs="+", metavar="PREDICTIONS_CSV", help="predictions.csv files; the first is the reference")
    c.add_argument("--data", default=None, help="dataset root whose metadata groups images by lesion")
    c.add_argument("--rounds", type=int, default=2000, help="bootstrap resamples")
    c.add_argument("--out", default=None, help="folder for comparison.json and comparison.md (default: print only)")
    add_overwrite_option(c, "an earlier comparison in --out")
    c.set_defaults(func=_compare)
    _add_experiment(sub, help="run a comparison grid (sampling x ratio x backbone x seed), resumable")
    p.set_defaults(func=lambda args: (p.print_help(), EXIT_USAGE)[1])
    # `dermaseg experiment`, before it moved under classify: hidden, kept for one more release.
    _add_experiment(subparsers).set_defaults(func=_old_experiment)


def _add_experiment(parsers, **kwargs):
    x = parsers.add_parser(
        "experiment", formatter_class=HelpFormatter,
        description="Run every cell of a grid file (see configs/experiments/seed_table.yaml). Finished cells are "
                    "skipped, an interrupted cell runs again; results.csv, results.md and results.png are written "
                    "in the output folder.", **kwargs)
    x.add_argument("grid", help="grid YAML file")
    x.add_argument("--out", default=None, help="output folder (default: the grid's 'out')")
    x.add_argument("--dry-run", action="store_true", help="list the cells and their state, run nothing")
    x.set_defaults(func=_experiment)
    return x


def _user_errors(fn):
    def wrapped(args):
        try:
            return fn(args)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return wrapped


@_user_errors
def _train(args) -> int:
    from pathlib import Path

    from dermaseg.classify.config import load_config
    from dermaseg.classify.train import train_classifier

    config = load_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / (Path(args.config).stem if args.config else "classify")
    train_classifier(config, out)
    return 0


@_user_errors
def _evaluate(args) -> int:
    from dermaseg.classify.evaluate import evaluate_classifier
    from dermaseg.data.inputs import prepare_output_dir

    prepare_output_dir(args.out)  # before the model loads and the data are read
    refuse_to_replace(args, args.out, ["metrics.json", "predictions.csv"])

    report = evaluate_classifier(args.model, args.data, args.out, split=args.split, split_file=args.split_file,
                                 task=args.task, tta_views=args.tta, crop=args.crop, segmenter=args.segmenter,
                                 threads=args.threads, **runtime_options(args))
    print(f"accuracy {report['accuracy']:.4f}  balanced accuracy {report['balanced_accuracy']:.4f}  "
          f"macro F1 {report['macro_f1']:.4f}"
          + (f"  melanoma AUC {report['melanoma_auc']:.4f}" if report.get("melanoma_auc") is not None else "")
          + f"  (n={report['n']}; {args.out}/metrics.json)"
          + (f"; {report['skipped']} image(s) skipped" if report["skipped"] else ""))
    return EXIT_SKIPPED if report["skipped"] else EXIT_OK


@_user_errors
def _calibrate(args) -> int:
    from dermaseg.classify.calibrate import calibrate_classifier, calibrate_ensemble
    from dermaseg.core.zoo import resolve

    refuse_to_replace(args, Path(args.out).parent, [Path(args.out).name])
    if resolve(args.model, "classification").path.suffix.lower() == ".json":
        calibrate_ensemble(args.model, args.data, args.out, threads=args.threads)
        print(f"-> {args.out}")
        return 0
    result = calibrate_classifier(args.model, args.data, args.out, threads=args.threads)
    v = result["validation"]
    print(f"tau {result['tau']}: validation accuracy {v['accuracy']:.4f}, balanced accuracy "
          f"{v['balanced_accuracy']:.4f} -> {result['model']}")
    return 0


@_user_errors
def _predict(args) -> int:
    from dermaseg.classify.batch import classify_files
    from dermaseg.classify.predict import gather_images, load_classifier
    from dermaseg.core.files import refuse_earlier_outputs
    from dermaseg.data.inputs import prepare_output_dir, report_inputs

    out = prepare_output_dir(args.out)  # before the models load: a bad --out costs nothing
    inputs = gather_images(args.paths)
    report_inputs(inputs)
    if not (out / "classification.jsonl").exists():   # a journal there: the same command goes on
        refuse_earlier_outputs(out, ["classification.csv", "classification.json"], overwrite=args.overwrite)
    clf = load_classifier(args.model, tta_views=args.tta, crop=args.crop, segmenter=args.segmenter,
                          threads=args.threads, **runtime_options(args))
    result = classify_files(clf, inputs.files, out / "classification.csv", lesion_check=not args.no_lesion_check,
                            skipped=inputs.skipped, ignored=inputs.ignored, overwrite=args.overwrite,
                            cluster=args.cluster, accept_any_image=args.accept_any_image, threads=args.threads,
                            remote={"model": args.model, "tta_views": args.tta, "crop": args.crop,
                                    "segmenter": args.segmenter, "threads": args.threads, **runtime_options(args)})
    print(f"classified {result['written']} image(s) -> {result['csv']}"
          + (f" ({result['done_before']} done before)" if result["done_before"] else "")
          + (f"; {result['flagged']} flagged (see the warning column)" if result["flagged"] else "")
          + (f"; {len(result['failed'])} skipped (see classification.json)" if result["failed"] else "")
          + (f"; {len(result['not_done'])} not classified: not a skin-lesion photograph (--accept-any-image to "
             "classify them anyway)" if result["not_done"] else ""),
          file=sys.stderr)
    print(predicted_summary(result["predicted"]), file=sys.stderr)
    return EXIT_OK if not result["failed"] and not result["not_done"] else EXIT_SKIPPED


def predicted_summary(counts: dict[str, int]) -> str:
    """How many images each class was the most probable for, with the class names spelled out."""
    from dermaseg.classify.labels import describe_class

    if not counts:
        return "no image classified"
    width = max(len(name) for name in counts)
    lines = ["most probable class:"] + [f"  {n:>5}  {name:<{width}}  {describe_class(name)}"
                                         for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join(lines)


@_user_errors
def _classical(args) -> int:
    from dermaseg.classify.classical import run_classical
    from dermaseg.classify.config import load_config

    overrides = list(args.overrides) + ([f"data.root={args.data}"] if args.data else [])
    config = load_config(args.config, overrides)
    df = run_classical(config, args.out, max_side=args.size, estimators=_csv(args.estimators),
                       feature_sets=_csv(args.feature_sets), segmenter=args.segmenter, cache_dir=args.cache_dir,
                       max_images=args.max_images, extract_only=args.extract_only, threads=args.threads)
    if df is not None:
        print(f"{len(df)} result row(s) -> {args.out}/results.md")
    return 0


@_user_errors
def _roc(args) -> int:
    from pathlib import Path

    from dermaseg.classify.roc import plot_rocs, read_summary

    labels = _csv(args.labels) if args.labels else [Path(p).parent.name for p in args.summaries]
    if len(labels) != len(args.summaries):
        raise ValueError(f"--labels names {len(labels)} curves for {len(args.summaries)} files")
    refuse_to_replace(args, Path(args.out).parent, [Path(args.out).name])
    curves = [(label, read_summary(path)) for label, path in zip(labels, args.summaries)]
    print(plot_rocs(curves, args.out, args.title))
    return 0


@_user_errors
def _ensemble(args) -> int:
    from dermaseg.classify.ensemble import score_ensemble

    refuse_to_replace(args, args.out, ["metrics.json", "predictions.csv"])
    score_ensemble(args.predictions, args.out)
    return 0


@_user_errors
def _compare(args) -> int:
    from dermaseg.classify.compare import compare, markdown, write_comparison

    if args.out:
        refuse_to_replace(args, args.out, ["comparison.json", "comparison.md"])
    report = compare(args.predictions, data_root=args.data, rounds=args.rounds)
    if args.out:
        write_comparison(report, args.out)
    print(markdown(report), end="")
    return 0


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@_user_errors
def _experiment(args) -> int:
    from dermaseg.classify.experiment import run_grid

    df = run_grid(args.grid, args.out, dry_run=args.dry_run)
    print(f"{len(df)} finished cell(s)")
    return 1 if df.attrs.get("failed") else 0


def _old_experiment(args) -> int:
    print("dermaseg: warning: `dermaseg experiment` is now `dermaseg classify experiment`; the old name will be "
          "removed in the next release", file=sys.stderr)
    return _experiment(args)
