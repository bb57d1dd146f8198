"""`dermaseg train --config FILE [key.sub=value ...]`."""

from __future__ import annotations

from dermaseg.core.cliutil import HelpFormatter
from dermaseg.core.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a segmentation model from a YAML recipe (resumes an interrupted run)",
        description="Train a lesion segmentation model. Recipes live in configs/*.yaml; any key can be overridden "
                    "as key.sub=value (e.g. train.epochs=5 model.encoder=resnet34). Re-running the same command "
                    "on the same --out folder resumes from its last checkpoint.",
        formatter_class=HelpFormatter)
    p.add_argument("--config", help="YAML recipe (default: built-in defaults)")
    p.add_argument("--out", help="run folder (default: runs/<config name>)")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")
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
    from pathlib import Path

    from dermaseg.train.config import load_config
    from dermaseg.train.run import train

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
    from dermaseg.train.study import run_study

    try:
        results = run_study(args.study, args.out, only=args.only, overrides=args.overrides, jobs=args.jobs)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for r in results:
        print(f"{r['name']}: Dice {r['dice']:.4f}  thresholded Jaccard {r['threshold_jaccard']:.4f}")
    return 0
