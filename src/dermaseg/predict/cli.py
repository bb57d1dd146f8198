"""`dermaseg predict`."""

from __future__ import annotations

from dermaseg.core.cliutil import EXIT_CODES_HELP, EXIT_OK, EXIT_SKIPPED, HelpFormatter
from dermaseg.core.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="segment images: masks, overlays and lesion measurements",
        description="Segment dermoscopic images with the shipped model (or your own). Writes for each image "
                    "<id>_segmentation.png (0/255, the image's own size) and <id>_overlay.jpg, and one "
                    "measurements.csv + measurements.json for all. Files that cannot be read are skipped and "
                    "listed, with the reason, in measurements.json.",
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
    p.add_argument("--threshold", type=float, default=None, help="probability threshold (default: the model's)")
    p.add_argument("--no-postprocess", action="store_true", help="keep every component and hole")
    p.add_argument("--mm-per-pixel", type=float, default=None, help="scale, for measurements in mm")
    p.add_argument("--shard", default=None, metavar="i/N", help="process only the i-th of N shards (0-based)")
    p.add_argument("--no-overlay", action="store_true", help="skip the overlay JPEGs")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the network")
    p.add_argument("--batch-size", type=int, default=4, help="images per network call")
    p.set_defaults(func=_predict)


def _predict(args) -> int:
    from dermaseg.predict.run import gather_inputs, predict_files, report_inputs

    paths = list(args.paths)
    if args.sample:
        from dermaseg.samples import sample_image

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
                                ignored=inputs.ignored, batch_size=args.batch_size)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return EXIT_OK if summary["failed"] == 0 else EXIT_SKIPPED
