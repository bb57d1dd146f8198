"""`dermaseg models`: the architectures and encoders the registry can build."""

from __future__ import annotations

import argparse

from dermaseg.core.cliutil import HelpFormatter, add_json_option, json_to_stdout, write_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list segmentation architectures and encoders",
        description="List the segmentation architectures and encoders dermaseg can build, which encoders "
                    "have ImageNet weights offline, and parameter counts.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--no-params", action="store_true",
                        help="skip parameter counts (they need every model built once: ~10-30 s on a CPU)")
    add_json_option(parser)
    parser.set_defaults(func=run)


def _millions(n: int | None) -> str:
    return "" if n is None else f"{n / 1e6:.1f}M"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import warnings

    from dermaseg.models.registry import describe_encoders, describe_models

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archs = describe_models(with_params=not args.no_params)
        encoders = describe_encoders(with_params=not args.no_params)
    write_json(args, {"architectures": archs, "encoders": encoders})
    if json_to_stdout(args):
        return 0

    print("Architectures (parameters: default encoder, 1 output class)")
    print(_table([[a["arch"], a["encoder"], _millions(a.get("params")), a["source"], a["description"]]
                  for a in archs], ["arch", "default encoder", "params", "source", "description"]))
    print()
    print("Encoders (params: encoder alone; archs: where it can be used)")
    print(_table([[e["encoder"], _millions(e.get("params")), e["imagenet"], ", ".join(e["archs"])]
                  for e in encoders], ["encoder", "params", "--encoder-weights imagenet", "archs"]))
    print()
    from dermaseg.models.thresholding import METHODS

    print("Classical baselines (no training; use the name as the model, "
          "e.g. `dermaseg evaluate --model otsu --data DATA`)")
    print(_table([[name, description] for name, (_, description) in METHODS.items()], ["name", "method"]))
    print()
    print("Any timm model also works with the smp architectures as 'tu-NAME' (e.g. tu-convnext_atto).")
    print("--encoder-weights FILE loads a state dict / checkpoint into the encoder, offline.")
    return 0
