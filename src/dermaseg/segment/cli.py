"""The segmentation task's commands: `dermaseg train`, `study`, `evaluate`, `compare`, `predict`."""

from __future__ import annotations

from pathlib import Path

from dermaseg.core.cliutil import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_SKIPPED,
    HelpFormatter,
    accept_old_positionals,
    add_accept_any_image_option,
    add_overwrite_option,
    add_recipe_arguments,
    add_runtime_options,
    float_between,
    refuse_to_replace,
    require,
    runtime_options,
)
from dermaseg.core.errors import UserError
from dermaseg.measure.lesions import MAX_MM_PER_PIXEL


def register(subparsers) -> None:
    _register_train(subparsers)
    _register_evaluate(subparsers)
    _register_predict(subparsers)


def _register_train(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a segmentation model from a YAML recipe (resumes an interrupted run)",
        description="Train a lesion segmentation model. Recipes live in configs/*.yaml; any key can be overridden "
                    "as key.sub=value (e.g. train.epochs=5 model.encoder=resnet34). Re-running the same command "
                    "on the same --out folder resumes from its last checkpoint.",
        formatter_class=HelpFormatter)
    add_recipe_arguments(p)
    p.set_defaults(func=_train)

    s = subparsers.add_parser(
        "study", help="train and score a table of segmentation models at one budget (resumable)",
        description="Run a comparison study: every row of STUDY.yaml (a classical method, or the base recipe "
                    "with overrides at the study's shared budget) is trained if needed, then scored on the "
                    "test split. Writes results.csv, results.md and learning_curves.png; finished rows are "
                    "not trained again.",
        formatter_class=HelpFormatter)
    s.add_argument("study", help="study file, e.g. configs/studies/isic2017_architectures.yaml")
    s.add_argument("--out", help="study folder (default: the file's 'out', else runs/studies/<name>)")
    s.add_argument("--only", nargs="*", metavar="ROW", help="run only these rows (name or slug)")
    s.add_argument("--jobs", type=int, default=1,
                   help="rows trained at once, each in its own process: several share a GPU; keep 1 on a CPU")
    s.add_argument("--set", nargs="+", default=[], metavar="key.sub=value", dest="overrides",
                   help="machine settings for every deep row, e.g. --set train.num_workers=4 train.accelerator=gpu")
    s.set_defaults(func=_study)


def _train(args) -> int:
    from dermaseg.segment.config import load_config
    from dermaseg.segment.train import train

    try:
        config = load_config(args.config, args.overrides)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    out = Path(args.out) if args.out else Path("runs") / (Path(args.config).stem if args.config else "default")
    try:
        train(config, out)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return 0


def _study(args) -> int:
    from dermaseg.segment.study import run_study

    try:
        results = run_study(args.study, args.out, only=args.only, overrides=args.overrides, jobs=args.jobs)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for r in results:
        print(f"{r['name']}: Dice {r['dice']:.4f}  thresholded Jaccard {r['threshold_jaccard']:.4f}")
    return 0


def _register_evaluate(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="score a model on a data set with the official ISIC metrics",
        description="Predict every image at its original resolution and score it with the ISIC challenge metrics "
                    "(Jaccard, thresholded Jaccard, Dice, accuracy, sensitivity, specificity), macro-averaged "
                    "over images, overall and by the lesion's share of the frame. Writes masks, per_image.csv, "
                    "summary.json and figures. Files that cannot be read "
                    "are skipped and listed, with the reason, in summary.json.",
        epilog=EXIT_CODES_HELP, formatter_class=HelpFormatter)
    p.add_argument("--model", default=None, help="shipped model name, a .pt/.ckpt/.onnx file or a classical "
                                                 "baseline (otsu, kmeans) (default: the shipped model)")
    p.add_argument("--data", default=None, help="data folder with masks (any layout dermaseg reads); required")
    p.add_argument("--split", default="test", help="split to score ('all' for every image)")
    p.add_argument("--split-file", default=None,
                   help="CSV image_id,split (default: the training run's split.csv when the model records it; "
                        "otherwise all images)")
    p.add_argument("--out", default="evaluation", help="output folder")
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: average the image and its three flips")
    p.add_argument("--no-postprocess", action="store_true", help="no largest-component / hole filling")
    p.add_argument("--threshold", type=float_between(0, 1), default=None,
                   help="probability threshold, between 0 and 1 (default: the model's)")
    p.add_argument("--tune-threshold", action="store_true", help="pick the threshold on the validation split")
    p.add_argument("--compare", action="store_true",
                   help="also measure each option's effect (TTA, post-processing, tuned threshold)")
    p.add_argument("--ensemble", metavar="MODEL", default=None,
                   help="a second model whose probabilities are averaged with the first")
    p.add_argument("--exclude", metavar="SPLIT_FILE", default=None,
                   help="never score images this CSV lists as train/val/extra_train (e.g. a model's training split)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images (smoke tests)")
    add_zoom_options(p)
    add_runtime_options(p, "the segmentation network", "ONNX Runtime")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the report of an earlier evaluation in --out; without it such an --out is refused")
    accept_old_positionals(p, "model", "data")  # `evaluate MODEL DATA`, before --model and --data
    p.set_defaults(func=_evaluate)
    c = subparsers.add_parser(
        "compare", help="paired differences between evaluations of the same images",
        description="For the per_image.csv files of several `dermaseg evaluate` runs on the same images: each one's "
                    "Dice, thresholded Jaccard and the other ISIC metrics with a 95% bootstrap interval, and each "
                    "later one's difference from the first, paired by image; then the same by the lesion's share "
                    "of the frame (0-2 %, 2-5 %, ... of the image's pixels).",
        formatter_class=HelpFormatter)
    c.add_argument("evaluations", nargs="+", metavar="EVALUATION",
                   help="evaluation folders (or their per_image.csv); the first is the reference")
    c.add_argument("--common", action="store_true",
                   help="compare over the images all of them scored (default: they must have scored the same images)")
    c.add_argument("--rounds", type=int, default=2000, help="bootstrap resamples")
    c.add_argument("--out", default=None, help="folder for comparison.json and comparison.md (default: print only)")
    add_overwrite_option(c, "an earlier comparison in --out")
    c.set_defaults(func=_compare)


def add_zoom_options(p) -> None:
    from dermaseg.segment.zoom import DEFAULT_ZOOM_BELOW

    default = f"{DEFAULT_ZOOM_BELOW:g}" if DEFAULT_ZOOM_BELOW is not None else "off"
    p.add_argument("--zoom-below", type=float_between(0, 1, include_high=True), default=None, metavar="SHARE",
                   help="segment a lesion covering less than this share of the frame a second time, from a crop of "
                        f"the image's own pixels (0-1; 1: every lesion; default: {default})")
    p.add_argument("--no-zoom", action="store_true", help="one pass only: no second look at small lesions")
    p.add_argument("--second-look-model", default=None, metavar="MODEL",
                   help="what segments the second look's crops: a shipped name or model file (default: the "
                        "model's own: isic-unet-lite0's is isic-unet-lite0-second-look; any other model "
                        "looks again itself)")


def zoom_below(args):
    """The Segmenter's zoom_below from --zoom-below / --no-zoom (else the shipped setting)."""
    from dermaseg.segment.zoom import DEFAULT_ZOOM_BELOW

    if args.no_zoom:
        return None
    return args.zoom_below if args.zoom_below is not None else DEFAULT_ZOOM_BELOW


def _evaluate(args) -> int:
    require("matplotlib")  # the report's figures: the training install
    from dermaseg.core.files import refuse_earlier_outputs
    from dermaseg.segment.evaluate import evaluate
    from dermaseg.segment.report import PER_IMAGE_CSV
    from dermaseg.segment.strata import format_strata

    if not args.data:
        raise UserError("evaluate: name the data set to score with --data DATA")
    try:
        refuse_earlier_outputs(Path(args.out), ["summary.json", PER_IMAGE_CSV, "masks"], overwrite=args.overwrite)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        summary = evaluate(args.model, args.data, args.out, split=None if args.split == "all" else args.split,
                           split_file=args.split_file, tta=args.tta, postprocess=not args.no_postprocess,
                           threshold=args.threshold, tune_threshold=args.tune_threshold, compare=args.compare,
                           limit=args.limit, ensemble=args.ensemble, exclude=args.exclude, zoom_below=zoom_below(args),
                           second_look_model=args.second_look_model, **runtime_options(args))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    keys = ("jaccard", "threshold_jaccard", "dice", "accuracy", "sensitivity", "specificity")
    print(f"{summary['n_images']} images: " + "  ".join(f"{k} {summary[k]:.4f}" for k in keys)
          + f"  ({summary['ms_per_image']} ms/image)")
    ci = summary["ci95"]
    print("95% bootstrap interval: " + "  ".join(f"{k} {ci[k][0]:.3f}-{ci[k][1]:.3f}" for k in ("dice", "threshold_jaccard")))
    print(format_strata(summary["by_lesion_size"]))
    if "options_compared" in summary:
        print((Path(args.out) / "options.md").read_text())
    skipped = summary.get("skipped") or []
    print(f"report written to {args.out}" + (f"; {len(skipped)} image(s) skipped (see summary.json)" if skipped else ""))
    return EXIT_SKIPPED if skipped else EXIT_OK


def _compare(args) -> int:
    from dermaseg.segment.compare import compare, markdown, write_comparison

    if args.out:
        refuse_to_replace(args, args.out, ["comparison.json", "comparison.md"])
    try:
        report = compare(args.evaluations, common=args.common, rounds=args.rounds)
    except ValueError as exc:
        raise UserError(f"compare: {exc}") from None
    if args.out:
        write_comparison(report, args.out)
    print(markdown(report), end="")
    return EXIT_OK


def _register_predict(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="segment images: masks, overlays and lesion measurements",
        description="Segment dermoscopic images with the shipped model (or your own). Writes for each image "
                    "<id>_segmentation.png (0/255, the image's own size) and <id>_overlay.jpg, and one "
                    "measurements.csv + measurements.json for all. Each row says the image's kind "
                    "(image_kind: dermoscopy, clinical or other, with image_kind_score) and how good the outline "
                    "looks (mask_quality, 0-1, and check_outline when a person should look at it); an image of "
                    "kind other is not segmented (see --accept-any-image), a clinical one is, with a warning. "
                    "Files that cannot be read are skipped and listed, with the reason, in measurements.json. "
                    "Every column: docs/measurements.md.",
        epilog=EXIT_CODES_HELP,
        formatter_class=HelpFormatter)
    p.add_argument("paths", nargs="*", metavar="PATH", help="image files, folders or glob patterns")
    p.add_argument("--sample", action="store_true",
                   help="segment the sample dermoscopic image shipped with dermaseg (see its licence beside it)")
    p.add_argument("--out", default="predictions", help="output folder")
    p.add_argument("--model", default=None, help="shipped model name, a .pt/.ckpt file or an exported .onnx "
                                                 "(default: the shipped model)")
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: average the image and its three flips")
    p.add_argument("--threshold", type=float_between(0, 1), default=None,
                   help="probability threshold, between 0 and 1 (default: the model's)")
    p.add_argument("--no-postprocess", action="store_true", help="keep every component and hole")
    p.add_argument("--mm-per-pixel", type=float_between(0, MAX_MM_PER_PIXEL, include_high=True), default=None,
                   help=f"scale, for measurements in mm (above 0, at most {MAX_MM_PER_PIXEL:g})")
    p.add_argument("--shard", default=None, metavar="i/N", help="process only the i-th of N shards (0-based)")
    p.add_argument("--no-overlay", action="store_true", help="skip the overlay JPEGs")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the network")
    p.add_argument("--batch-size", type=int, default=4, help="images per network call")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the outputs an earlier run (or anything else) left in --out; without it such an "
                        "--out is refused")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="a Dask scheduler (tcp://host:8786): its workers segment the images; inputs and --out must be "
                        "on storage every worker sees (pip install -e \".[cluster]\")")
    add_accept_any_image_option(p, "segment and measure")
    add_zoom_options(p)
    add_runtime_options(p, "the segmentation network", "ONNX Runtime")
    p.set_defaults(func=_predict)


def _predict(args) -> int:
    from dermaseg.data.inputs import gather_inputs, report_inputs
    from dermaseg.segment.batch import predict_files

    paths = list(args.paths)
    if args.sample:
        from dermaseg.data.samples import sample_image

        paths.append(str(sample_image()))
    if not paths:
        raise UserError("predict: name image files, folders or patterns (or --sample for the shipped sample image)")
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be at least 1")
    try:
        inputs = gather_inputs(paths)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    files = inputs.files
    if args.shard:
        try:
            i, n = (int(v) for v in args.shard.split("/"))
            assert 0 <= i < n
        except (ValueError, AssertionError):
            raise UserError(f"--shard {args.shard!r}: expected i/N with 0 <= i < N") from None
        files = files[i::n]
        if i > 0:  # entries that are not processed are listed once, by the first shard
            inputs.skipped, inputs.ignored = [], []
    report_inputs(inputs)
    try:
        summary = predict_files(files, args.out, model=args.model, tta=args.tta, threshold=args.threshold,
                                postprocess=not args.no_postprocess, mm_per_pixel=args.mm_per_pixel,
                                overlay=not args.no_overlay, threads=args.threads, skipped=inputs.skipped,
                                ignored=inputs.ignored, batch_size=args.batch_size, overwrite=args.overwrite,
                                cluster=args.cluster, accept_any_image=args.accept_any_image,
                                zoom_below=zoom_below(args), second_look_model=args.second_look_model,
                                **runtime_options(args))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return EXIT_OK if summary["failed"] == 0 and not summary["not_done"] else EXIT_SKIPPED
