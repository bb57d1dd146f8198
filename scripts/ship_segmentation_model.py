"""Make a training run's best model the shipped segmentation model.

    python scripts/ship_segmentation_model.py runs/isic2017_unet_lite0/model.pt \
        --test-summary evaluations/isic2017_test/summary.json --version 0.2.0

Writes src/dermaseg/weights/isic_unet_lite0.pt: the weights in fp16 (half the size, same
masks), the recipe's architecture and pipeline, the threshold (tuned on the validation split
when the evaluation tuned one), and provenance: recipe, training data, commit, hardware, and
the held-out test figures read from the evaluation's summary.json, so `dermaseg serve`'s
/v1/models and the exported ONNX file report what was measured, not what was hoped.
Then regenerate its ONNX file: `dermaseg export --model isic-unet-lite0 --out src/dermaseg/weights/isic_unet_lite0.onnx`.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from dermaseg.segment.modelfile import read_model_file, save_model_file
from dermaseg.core.provenance import source_commit

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "src" / "dermaseg" / "weights" / "isic_unet_lite0.pt"
HELD_OUT_KEYS = ("n_images", "jaccard", "threshold_jaccard", "dice", "accuracy", "sensitivity", "specificity")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the run's model.pt")
    parser.add_argument("--test-summary", required=True, help="summary.json of `dermaseg evaluate` on the test split")
    parser.add_argument("--version", required=True)
    parser.add_argument("--name", default="isic-unet-lite0")
    parser.add_argument("--recipe", default="configs/isic2017_unet_lite0.yaml")
    parser.add_argument("--hardware", default=f"{platform.machine()} CPU, {platform.processor() or 'unknown'}")
    parser.add_argument("--training-commit", default=None, help="the commit the run trained with (default: HEAD)")
    parser.add_argument("--out", default=str(SHIPPED))
    parser.add_argument("--training-data", default="ISIC 2017 Task 1 training images (fixed 1440 train / 160 "
                        "validation split) + 300 HAM10000 images with lesion masks; CC BY-NC")
    parser.add_argument("--held-out", default="ISIC 2017 test split (400 images, never used for choices)",
                        help="what --test-summary scored")
    args = parser.parse_args(argv)

    model = read_model_file(args.model)
    summary = json.loads(Path(args.test_summary).read_text())
    threshold = float(summary.get("threshold", model["threshold"]))
    run_dir = Path(model["info"].get("run_dir", Path(args.model).parent))
    config = {"model": model["model"], "pipeline": model["pipeline"]}
    info = {
        "name": args.name, "version": args.version,
        "best_val_dice": model["info"].get("best_val_dice"), "epoch": model["info"].get("epoch"),
        "recipe_file": args.recipe,
        "training_data": args.training_data,
        "commit": args.training_commit or source_commit(), "hardware": args.hardware,
        "held_out": {"split": args.held_out,
                     **{k: summary[k] for k in HELD_OUT_KEYS}, "threshold": threshold,
                     "options": summary.get("options")},
        "data_root": model["info"].get("data_root"), "run": run_dir.name,
    }
    save_model_file(args.out, model["state_dict"], config, threshold=threshold, info=info, fp16=True)
    print(f"shipped {args.name} {args.version} -> {args.out} (threshold {threshold:.2f}, "
          f"test Dice {summary['dice']:.4f}, thresholded Jaccard {summary['threshold_jaccard']:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
