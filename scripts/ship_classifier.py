"""Make a classification run's (calibrated) model the shipped classifier.

    python scripts/ship_classifier.py runs/classify_ham10000_lite0_finetune/model_calibrated.pt \
        --test-metrics evaluations/classifier_test/metrics.json \
        --cross-metrics evaluations/classifier_isic2017/metrics.json --version 0.2.0

Writes src/dermaseg/weights/classifier_ham10000_lite0.pt (fp16 weights, as the run saved them)
with provenance: recipe, training data, commit, hardware, and the figures measured by
`dermaseg classify evaluate` from the raw images: the held-out HAM10000 test split and, when
given, the cross-dataset melanoma check. `dermaseg serve`'s /v1/models and the ONNX file then
report what was measured. Then regenerate its ONNX file:
`dermaseg export --model ham10000-lite0 --out src/dermaseg/weights/classifier_ham10000_lite0.onnx`.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from dermaseg.classify.modelfile import read_classifier, write_classifier
from dermaseg.core.provenance import source_commit

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "src" / "dermaseg" / "weights" / "classifier_ham10000_lite0.pt"
HEADLINE = ("n", "accuracy", "balanced_accuracy", "macro_f1", "macro_auc", "melanoma_auc", "ece")


def _figures(path: str, split: str, description: str) -> dict:
    metrics = json.loads(Path(path).read_text())
    return {"split": split, "description": description,
            **{k: metrics[k] for k in HEADLINE if metrics.get(k) is not None},
            "tta_views": metrics.get("tta_views"), "data": metrics.get("data")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the run's model file (after `dermaseg classify calibrate`)")
    parser.add_argument("--test-metrics", required=True, help="metrics.json of `classify evaluate` on the test split")
    parser.add_argument("--cross-metrics", default=None, help="metrics.json of the cross-dataset melanoma check")
    parser.add_argument("--cross-description", default="ISIC 2017 training set, melanoma vs. rest",
                        help="what --cross-metrics scored")
    parser.add_argument("--version", required=True)
    parser.add_argument("--name", default="ham10000-lite0")
    parser.add_argument("--recipe", default="configs/classify_ham10000_lite0_finetune.yaml")
    parser.add_argument("--training-data", default="HAM10000 (lesion-grouped 80:20 split, 10% of the training "
                        "part for validation); CC BY-NC 4.0")
    parser.add_argument("--hardware", default=f"{platform.machine()} CPU, {platform.processor() or 'unknown'}")
    parser.add_argument("--training-commit", default=None, help="the commit the run trained with (default: HEAD)")
    parser.add_argument("--out", default=str(SHIPPED))
    args = parser.parse_args(argv)

    raw = read_classifier(args.model)
    info = dict(raw["info"])
    info.update({
        "name": args.name, "version": args.version, "recipe_file": args.recipe,
        "training_data": args.training_data,
        "commit": args.training_commit or source_commit(), "hardware": args.hardware,
        "held_out": _figures(args.test_metrics, "test", "HAM10000 lesion-grouped test split (never used for choices)"),
    })
    if args.cross_metrics:
        split = json.loads(Path(args.cross_metrics).read_text()).get("split", "all")
        info["cross_dataset"] = _figures(args.cross_metrics, split, args.cross_description)
    raw["info"] = info
    write_classifier(args.out, raw)
    held = info["held_out"]
    print(f"shipped {args.name} {args.version} -> {args.out} (test accuracy {held['accuracy']:.4f}, "
          f"balanced accuracy {held['balanced_accuracy']:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
