"""`dermaseg export`."""

from __future__ import annotations

from dermaseg.core.cliutil import (
    HelpFormatter,
    accept_old_positionals,
    add_overwrite_option,
    refuse_to_replace,
)
from dermaseg.core.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a model to ONNX (needs the training install)",
                              description="Export a segmentation or classification model file (or a shipped "
                                          "model's PyTorch weights) to ONNX, dynamic batch and size, with its "
                                          "task, classes, preprocessing, threshold, provenance and held-out "
                                          "figures stored as metadata. `--shipped` regenerates every shipped "
                                          "ONNX file from its .pt (run it after the weights change).",
                              formatter_class=HelpFormatter)
    p.add_argument("--model", default=None, help="model .pt / Lightning .ckpt / shipped model name")
    p.add_argument("--shipped", action="store_true", help="regenerate every shipped ONNX file in the package")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="export format")
    p.add_argument("--out", default=None, help="output file (default: <model file stem>.onnx)")
    add_overwrite_option(p, "an existing --out file (--shipped always regenerates the shipped files)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version")
    p.add_argument("--static", action="store_true", help="fixed 1x3xSxS input instead of dynamic batch/size")
    accept_old_positionals(p, "model")  # `export MODEL`, before --model
    p.set_defaults(func=_export)


def _export(args) -> int:
    from pathlib import Path

    from dermaseg.core.zoo import SHIPPED
    from dermaseg.export.onnx_export import export_onnx, export_shipped

    if args.shipped:
        for out in export_shipped(opset=args.opset):
            print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
        return 0
    if not args.model:
        raise UserError("export: name a model file or shipped model with --model, or pass --shipped")
    name = args.model if args.model in SHIPPED else None
    source = SHIPPED[name].torch_path if name else Path(args.model)
    if not source.is_file():
        raise UserError(f"{args.model}: no such model file, and not a shipped model name "
                        f"(shipped: {', '.join(SHIPPED)})")
    if source.suffix.lower() == ".json":
        raise UserError(f"{args.model}: an ensemble file of several classifiers; export each member model")
    out = Path(args.out) if args.out else Path(source.stem + ".onnx")
    refuse_to_replace(args, out.parent, [out.name])
    export_onnx(source, out, opset=args.opset, dynamic=not args.static, name=name)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
