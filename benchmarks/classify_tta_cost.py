"""What test-time augmentation costs a classifier: ms/image at 1, 2, 4 and 8 views.

One shipped network at 1 view is the plain baseline (`--base-model`, default `ham10000-lite0`:
one forward pass of one network per image); the others average the softmax over that many
dihedral views (identity, flips, rotations). The shipped default classifier (an ensemble: the
sum of its members' cost) and each `--model` (a larger network, an ensemble file) are timed
beside it. Every setting classifies the same HAM10000 images, decoded into memory first, in the
same process, in interleaved rounds; the median round is printed. Accuracy per setting comes
from `dermaseg classify evaluate --tta N` (docs/classification.md), not from here.

    python benchmarks/classify_tta_cost.py                     # 200 images, 3 rounds, 2 threads
    python benchmarks/classify_tta_cost.py --images 16 --rounds 1   # smoke run
    python benchmarks/classify_tta_cost.py --views 1 8 --model runs/classify_ham_isic2017_lite1_240/model_calibrated.pt

Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "ham10000"


def load_images(n: int) -> list:
    files = sorted(SOURCE.rglob("ISIC_*.jpg"))[:n]
    if not files:
        raise SystemExit(f"no HAM10000 images under {SOURCE}")
    return [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--views", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--base-model", default="ham10000-lite0", help="the baseline: one network")
    parser.add_argument("--model", action="append", default=[],
                        help="another classifier to time beside the baseline and the shipped default (repeatable)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    from dermaseg.classify.predict import load_classifier
    from dermaseg.core.zoo import DEFAULTS

    images = load_images(args.images)
    models = list(dict.fromkeys([args.base_model, DEFAULTS["classification"], *args.model]))
    settings = {(m, v): load_classifier(m, tta_views=v, threads=args.threads) for m in models for v in args.views}
    for c in settings.values():                # warm-up: first-run allocations out of the timing
        c.predict_proba(images[:8])
    times: dict[tuple, list[float]] = {key: [] for key in settings}
    for _ in range(args.rounds):
        for key, c in settings.items():
            start = time.perf_counter()
            c.predict_proba(images)
            times[key].append((time.perf_counter() - start) * 1000 / len(images))
    baseline = (args.base_model, args.views[0])
    base = statistics.median(times[baseline])
    print(f"{len(images)} HAM10000 images, {args.threads} thread(s), {args.rounds} round(s), "
          f"{platform.processor() or platform.machine()}; baseline: {args.base_model} at {args.views[0]} view(s)")
    print("| classifier | backend | views | ms/image (median) | x the baseline |\n| --- | --- | --- | --- | --- |")
    rows = []
    for (model, v), c in settings.items():
        ms = statistics.median(times[(model, v)])
        label = str(model)
        rows.append({"classifier": label, "backend": c.backend_name, "views": v, "ms_per_image": ms,
                     "relative": ms / base})
        print(f"| {label} | {c.backend_name} | {v} | {ms:.1f} | {ms / base:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"images": len(images), "threads": args.threads, "rows": rows},
                                              indent=2))


if __name__ == "__main__":
    main()
