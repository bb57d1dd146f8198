"""The `dermaseg` command. Each sub-package registers its own subcommands.

A sub-package exposes `register(subparsers)` in its `cli.py`; heavy imports (torch, ...)
happen inside the handlers so `dermaseg --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dermaseg import __version__

SUBCOMMAND_MODULES = [
    "dermaseg.data.cli",          # data inspect | split
    "dermaseg.transforms.cli",    # augment preview
    "dermaseg.models.cli",        # models
    "dermaseg.train.cli",         # train
    "dermaseg.evaluate.cli",      # evaluate
    "dermaseg.predict.cli",       # predict | export
    "dermaseg.classify.cli",      # classify train|evaluate|predict, experiment
    "dermaseg.serve.cli",         # serve
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dermaseg",
        description="Dermoscopic skin-lesion segmentation, measurement and classification.",
    )
    parser.add_argument("--version", action="version", version=f"dermaseg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):  # that sub-package (or its cli) does not exist yet
                continue
            raise
        module.register(subparsers)
    return parser


class UserError(Exception):
    """An error caused by the user's input: printed as one clear line, no traceback."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        result = args.func(args)
    except (UserError, FileNotFoundError) as exc:
        print(f"dermaseg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dermaseg: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
