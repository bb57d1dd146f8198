"""What every `dermaseg` subcommand shares: exit statuses, the layout of help pages, and the
positional forms some commands had before they took flags.

Exit status, the same for every command that processes many files: 0 every file done,
3 some files skipped (each listed with its reason), 2 usage error or nothing to do.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from dermaseg.core.errors import UserError

EXIT_OK = 0          # every file done
EXIT_USAGE = 2       # bad arguments, unusable output folder, or nothing to do
EXIT_SKIPPED = 3     # done, but some files were skipped (each is listed with its reason)

EXIT_CODES_HELP = ("exit status: 0 every file done; 3 some files skipped (each listed with the reason); "
                   "2 usage error, unusable output folder or nothing to do")


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
    if isinstance(value, dict):
        return {k: json_safe(v, finite=finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, finite=finite) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if finite and isinstance(value, float) and not math.isfinite(value):
        return None
    return value
