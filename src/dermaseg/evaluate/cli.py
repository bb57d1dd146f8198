"""`dermaseg evaluate --model MODEL --data DATA` and `dermaseg compare EVALUATION ...`."""

from __future__ import annotations

from pathlib import Path

from dermaseg.core.cliutil import EXIT_CODES_HELP, EXIT_OK, EXIT_SKIPPED, HelpFormatter, accept_old_positionals
from dermaseg.core.errors import UserError


def register(subparsers) -> None:
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
    p.add_argument("--threshold", type=float, default=None, help="probability threshold (default: the model's)")
    p.add_argument("--tune-threshold", action="store_true", help="pick the threshold on the validation split")
    p.add_argument("--compare", action="store_true",
                   help="also measure each option's effect (TTA, post-processing, tuned threshold)")
    p.add_argument("--ensemble", metavar="MODEL", default=None,
                   help="a second model whose probabilities are averaged with the first")
    p.add_argument("--exclude", metavar="SPLIT_FILE", default=None,
                   help="never score images this CSV lists as train/val/extra_train (e.g. a model's training split)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images (smoke tests)")
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
    c.set_defaults(func=_compare)


def _evaluate(args) -> int:
    from dermaseg.evaluate.run import evaluate
    from dermaseg.evaluate.strata import format_strata

    if not args.data:
        raise UserError("evaluate: name the data set to score with --data DATA")
    try:
        summary = evaluate(args.model, args.data, args.out, split=None if args.split == "all" else args.split,
                           split_file=args.split_file, tta=args.tta, postprocess=not args.no_postprocess,
                           threshold=args.threshold, tune_threshold=args.tune_threshold, compare=args.compare,
                           limit=args.limit, ensemble=args.ensemble, exclude=args.exclude)
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
    from dermaseg.evaluate.compare import compare, markdown, write_comparison

    try:
        report = compare(args.evaluations, common=args.common, rounds=args.rounds)
    except ValueError as exc:
        raise UserError(f"compare: {exc}") from None
    if args.out:
        write_comparison(report, args.out)
    print(markdown(report), end="")
    return EXIT_OK
