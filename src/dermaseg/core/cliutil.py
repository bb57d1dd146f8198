"""What every `dermaseg` subcommand shares: exit statuses, the layout of help pages, and the
positional forms some commands had before they took flags.

Exit status, the same for every command that processes many files: 0 every file done,
3 some files skipped (each listed with its reason), 2 usage error or nothing to do.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import math
import sys

from dermaseg.core.errors import UserError

EXIT_OK = 0          # every file done
EXIT_USAGE = 2       # bad arguments, unusable output folder, or nothing to do
EXIT_SKIPPED = 3     # done, but some files were skipped (each is listed with its reason)
EXIT_WRITE_FAILED = 4  # an output could not be written (disk full, permissions): finished files are kept

EXIT_CODES_HELP = ("exit status: 0 every file done; 3 some files skipped (each listed with the reason); "
                   "2 usage error, unusable output folder or nothing to do; 4 an output could not be "
                   "written (disk full, no permission: the file is named, finished results are kept)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every help page: each option ends with its default, unless its help states the default
    already or there is none to state (None, an off switch)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)


def accept_old_positionals(parser: argparse.ArgumentParser, *dests: str) -> None:
    """Accept, for one more release and hidden from the help, the positional form a command had
    before it took these options (`evaluate MODEL DATA` for `--model MODEL --data DATA`)."""
    parser.add_argument("old_positionals", nargs="*", help=argparse.SUPPRESS)
    parser.set_defaults(old_positional_dests=dests)


def take_old_positionals(args: argparse.Namespace, command: str) -> None:
    """Move positionals given the old way onto their options, with a one-line note."""
    values = getattr(args, "old_positionals", None)
    if not values:
        return
    dests = args.old_positional_dests
    if len(values) > len(dests):
        raise UserError(f"{command}: unrecognized arguments: {' '.join(values[len(dests):])}")
    flags = [f"--{d} {v}" for d, v in zip(dests, values)]
    for dest, value in zip(dests, values):
        if getattr(args, dest, None) is not None:
            raise UserError(f"{command}: {value!r} and --{dest} {getattr(args, dest)!r}: give it once, as --{dest}")
        setattr(args, dest, value)
    print(f"dermaseg: warning: positional arguments of `dermaseg {command}` are deprecated and will be "
          f"removed in the next release; write: dermaseg {command} {' '.join(flags)}", file=sys.stderr)


# --json means one thing in every command: the output as JSON on stdout instead of text, or,
# given a FILE, the text as usual and the JSON written to FILE.
JSON_HELP = "print the output as JSON instead of text (or, with FILE, write the JSON to FILE as well)"


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE", help=JSON_HELP)


def json_to_stdout(args: argparse.Namespace) -> bool:
    return getattr(args, "json", None) == "-"


def write_json(args: argparse.Namespace, document) -> None:
    """Print `document` (--json) or write it to the FILE of --json FILE; nothing without --json."""
    import json

    if args.json is None:
        return
    text = json.dumps(document, indent=2)
    if args.json == "-":
        print(text)
        return
    try:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    except OSError as exc:
        from dermaseg.core.errors import UserError

        raise UserError(f"{args.json}: cannot write the JSON report ({exc.strerror or exc})") from None


def json_safe(value, *, finite: bool = False):
    """numpy scalars -> Python, recursively; with `finite`, NaN/inf -> None (strict JSON has no NaN)."""
    import numpy as np  # not at import time: `dermaseg --help` stays fast

    if isinstance(value, dict):
        return {k: json_safe(v, finite=finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, finite=finite) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if finite and isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ArgumentParser(argparse.ArgumentParser):
    """argparse that helps with typos: a misspelt command or flag names the closest one, and the
    list of choices leaves out hidden commands (old names kept for a release, registered without
    help). Subcommand parsers inherit the class."""

    def _check_value(self, action, value):
        if action.choices is None or value in action.choices:
            return super()._check_value(action, value)
        shown = visible_choices(action)
        close = difflib.get_close_matches(str(value), shown, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise argparse.ArgumentError(action, f"invalid choice: {value!r}{hint}; choose from "
                                             + ", ".join(repr(c) for c in shown))

    def parse_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            owner = _command_parser(self, args)
            flags = [s for a in owner._actions for s in a.option_strings]
            hints = [f"{e} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(e.split("=")[0], flags, n=1))
                     else e for e in extras]
            owner.error("unrecognized arguments: " + " ".join(hints))
        return parsed


def visible_choices(action: argparse.Action) -> list[str]:
    """The choices `--help` lists: for subcommands, those registered with help."""
    pseudo = getattr(action, "_choices_actions", None)
    if isinstance(action, argparse._SubParsersAction) and pseudo:
        return [choice.dest for choice in pseudo]
    return [str(c) for c in action.choices]


def _command_parser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)command parser that `argv` selects, e.g. `classify predict`'s for its flags."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for i, token in enumerate(argv):
                if token in action.choices:
                    return _command_parser(action.choices[token], argv[i + 1:])
    return parser


def require(*modules: str) -> None:
    """Import `modules` now: a command that needs the training install fails in one line, naming
    what is missing, before any work or progress bar (dermaseg.cli turns the error into that line)."""
    for name in modules:
        importlib.import_module(name)


def float_between(low: float, high: float, *, include_high: bool = False):
    """An argparse type: a finite number above `low` and below `high` (at most `high` with
    `include_high`). Out of range is a usage error naming the flag, before any file is read."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        inside = math.isfinite(value) and value > low and (value <= high if include_high else value < high)
        if not inside:
            top = f"at most {high:g}" if include_high else f"below {high:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a number above {low:g} and {top}")
        return value
    return parse


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """What every training command takes: a YAML recipe, a run folder and key.sub=value overrides."""
    parser.add_argument("--config", help="YAML recipe (default: built-in defaults)")
    parser.add_argument("--out", help="run folder (default: runs/<config name>)")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")


def add_overwrite_option(parser: argparse.ArgumentParser, what: str) -> None:
    """--overwrite: without it, a command refuses to replace `what` (an earlier run's or the user's)."""
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace {what} if it is there already; without it the command refuses")


def add_accept_any_image_option(parser: argparse.ArgumentParser, what: str) -> None:
    """--accept-any-image: process images whose kind is `other` (dermaseg.kind) instead of listing them."""
    parser.add_argument("--accept-any-image", action="store_true",
                        help=f"{what} images that do not look like a skin-lesion photograph (image_kind other) "
                             "too; they stay labelled other. Without it they get a row saying so, nothing else, "
                             "and the exit status is 3")


RUNTIMES = {"auto": "auto", "onnxruntime": "onnx", "openvino": "openvino"}   # --runtime -> Classifier backend


def add_runtime_options(parser: argparse.ArgumentParser, what: str = "the classifier networks",
                        auto: str = "the model's setting") -> None:
    """--runtime / --precision: what runs `what` (dermaseg.core.openvino_session)."""
    parser.add_argument("--runtime", default="auto", choices=list(RUNTIMES),
                        help=f"what runs {what}: onnxruntime (FP32), openvino (the same file, bfloat16 where the "
                             f"CPU computes it natively: about twice as fast there), or auto ({auto})")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                        help="OpenVINO's precision: auto is bfloat16 on CPUs with AVX-512 BF16 or AMX, else FP32")


def runtime_options(args: argparse.Namespace) -> dict:
    """Classifier keyword arguments from --runtime / --precision."""
    return {"backend": RUNTIMES[args.runtime], "precision": args.precision}


def refuse_to_replace(args: argparse.Namespace, folder, names) -> None:
    """UserError when `folder` already holds any of `names` and --overwrite was not given."""
    from pathlib import Path

    from dermaseg.core.files import refuse_earlier_outputs

    try:
        refuse_earlier_outputs(Path(folder), list(names), overwrite=getattr(args, "overwrite", False))
    except ValueError as exc:
        raise UserError(str(exc)) from None


class _NoBar:
    """What a progress bar offers, for runs too short to show one: no tqdm import (~20 ms of start-up)."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    @staticmethod
    def write(text: str, file=None) -> None:
        print(text, file=file or sys.stderr)


def progress_bar(total: int, *, quiet: bool = False, unit: str = "img"):
    """A tqdm bar on stderr for two or more items, else a stand-in with the same methods."""
    if quiet or total < 2:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr)
