"""`dermaseg data inspect|split`."""

from __future__ import annotations

from pathlib import Path

from dermaseg.core.cliutil import (
    EXIT_OK,
    EXIT_SKIPPED,
    HelpFormatter,
    add_json_option,
    add_overwrite_option,
    json_to_stdout,
    refuse_to_replace,
    write_json,
)
from dermaseg.core.errors import UserError


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="inspect data sets and make splits",
                                 description="Inspect dermoscopy data sets and write reproducible splits.")
    sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = sub.add_parser("inspect", help="detect the layout, print counts, sizes, coverage, classes and problems",
                       epilog="exit status: 0 every file readable; 3 some files unreadable (listed); 1 with --strict "
                              "and any problem; 2 usage error or no data found",
                       formatter_class=HelpFormatter)
    p.add_argument("root", help="data folder (ISIC 2016-2018, HAM10000, PH2, images/+masks/, or a folder of them)")
    add_json_option(p)
    p.add_argument("--strict", action="store_true", help="exit with status 1 if any problem is found")
    p.add_argument("--workers", type=int, default=None,
                   help="images worked on at once, each in its own process (default: up to 4)")
    p.set_defaults(func=_inspect)

    p = sub.add_parser("split", help="write a reproducible train/test or train/val/test split CSV",
                       formatter_class=HelpFormatter)
    p.add_argument("root", help="data folder")
    p.add_argument("--ratios", default="80:20", help="train:test or train:val:test, e.g. 80:20, 70:30, 40:60, 70:10:20")
    p.add_argument("--seed", type=int, default=0, help="seed of the random assignment")
    p.add_argument("--out", default="split.csv", help="CSV with columns image_id,split")
    add_overwrite_option(p, "an existing --out file")
    p.add_argument("--by-image", action="store_true",
                   help="ignore lesion_id grouping (leaky for HAM10000; for showing the leak only)")
    p.add_argument("--no-stratify", action="store_true", help="do not stratify by diagnosis")
    p.add_argument("--layout", action="append", help="only this layout (repeatable): isic2017, ham10000, ...")
    p.set_defaults(func=_split)


def _inspect(args) -> int:
    import time

    from dermaseg.data.inspect import format_report, inspect_dataset
    from dermaseg.data.readers import open_dataset

    start = time.perf_counter()
    report = inspect_dataset(open_dataset(args.root), workers=args.workers)
    if not json_to_stdout(args):
        print(format_report(report))
        print(f"inspected {report.n_records} images in {time.perf_counter() - start:.1f} s")
    write_json(args, report.to_dict())
    from dermaseg.data.quality import SKIP_CODES

    if args.strict and report.problems:
        return 1
    return EXIT_SKIPPED if any(p.code in SKIP_CODES for p in report.problems) else EXIT_OK


def _split(args) -> int:
    from collections import Counter

    from dermaseg.data.readers import open_dataset
    from dermaseg.data.splits import make_split, parse_ratios, write_split

    try:
        ratios = parse_ratios(args.ratios)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    refuse_to_replace(args, Path(args.out).parent, [Path(args.out).name])
    ds = open_dataset(args.root, layouts=args.layout)
    mapping = make_split(ds.records, ratios, seed=args.seed, stratify=not args.no_stratify, group=not args.by_image)
    write_split(args.out, mapping)
    counts = Counter(mapping.values())
    print(f"wrote {args.out}: " + ", ".join(f"{k} {counts[k]}" for k in ("train", "val", "test") if k in counts) +
          f" (seed {args.seed}, {'grouped by lesion' if not args.by_image else 'by image'})")
    return 0
