"""`dermaseg augment preview`: pictures of what a pipeline config does to real images."""

from __future__ import annotations

from pathlib import Path

from dermaseg.core.cliutil import (
    EXIT_USAGE,
    HelpFormatter,
    accept_old_positionals,
    add_overwrite_option,
    refuse_to_replace,
)
from dermaseg.core.errors import UserError


def register(subparsers) -> None:
    augment = subparsers.add_parser("augment", help="preview augmentation and preprocessing",
                                    description="See what a pipeline config does to your images.")
    actions = augment.add_subparsers(dest="augment_command", metavar="ACTION")
    augment.set_defaults(func=lambda args: augment.print_help() or EXIT_USAGE)

    preview = actions.add_parser(
        "preview", help="write PNG grids of augmented images and of each preprocessing step",
        description="Writes OUT (originals and augmented versions with mask contours) and "
                    "OUT_preprocess (each preprocessing step, and the config's chain).",
        formatter_class=HelpFormatter)
    preview.add_argument("--data", default=None, help="data set root (any layout dermaseg reads); required")
    preview.add_argument("--n", type=int, default=8, help="number of images")
    preview.add_argument("--out", type=Path, default=Path("grid.png"), help="augmentation grid PNG")
    add_overwrite_option(preview, "existing grid PNGs")
    preview.add_argument("--config", type=Path, default=None,
                         help="YAML pipeline config (top level, or under a `pipeline:` key); "
                              "default: size 256 with the default training augmentation")
    preview.add_argument("--seed", type=int, default=0, help="seed for picking images and augmenting")
    preview.add_argument("--ids", nargs="+", default=None, help="image ids to show instead of a random pick")
    preview.add_argument("--versions", type=int, default=3, help="augmented versions per image")
    accept_old_positionals(preview, "data")  # `augment preview DATA`, before --data
    preview.set_defaults(func=run_preview)


def load_config(path: Path | None):
    """A PipelineConfig from YAML (top level, or its `pipeline:` section); errors name the file."""
    from dermaseg.core.config import read_yaml
    from dermaseg.transforms.pipeline import DEFAULT_AUGMENT, PipelineConfig

    if path is None:
        return PipelineConfig(augment=DEFAULT_AUGMENT)
    try:
        data = read_yaml(path)
    except (OSError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if isinstance(data.get("pipeline"), dict):
        data = data["pipeline"]
    try:
        return PipelineConfig.from_dict(data)
    except ValueError as exc:
        raise UserError(f"{path}: {exc}") from None


def run_preview(args) -> int:
    from dermaseg.data.readers import open_dataset
    from dermaseg.transforms import preview

    if not args.data:
        raise UserError("augment preview: name the data set with --data DATA")
    if args.n < 1 or args.versions < 1:
        raise UserError("--n and --versions must be at least 1")
    config = load_config(args.config)
    try:
        from dermaseg.transforms.augment import build_augment

        build_augment(config.augment, seed=args.seed)  # fail on a bad augment entry before any work
    except ValueError as exc:
        raise UserError(f"{args.config}: {exc}") from None
    dataset = open_dataset(args.data)
    if args.ids:
        unknown = [i for i in args.ids if i not in {r.image_id for r in dataset.records}]
        if unknown:
            raise UserError(f"{args.data}: no image(s) {', '.join(unknown)}")
        ids = list(args.ids)
    else:
        try:
            ids = preview.choose_ids(dataset, args.n, args.seed)
        except ValueError as exc:
            raise UserError(f"{args.data}: {exc}") from None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    refuse_to_replace(args, out.parent, [out.name, preview.preprocess_path(out).name])
    try:
        grid = preview.augment_grid(dataset, ids, config, out, seed=args.seed, versions=args.versions)
        steps = preview.preprocess_grid(dataset, ids, config, preview.preprocess_path(out))
    except ValueError as exc:
        raise UserError(f"{args.data}: {exc}") from None
    print(f"wrote {grid} (augmentation) and {steps} (preprocessing steps)")
    return 0
