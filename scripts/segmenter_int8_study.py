"""Would an INT8 copy of the shipped segmentation network do? Accuracy and cost against FP32.

    python scripts/segmenter_int8_study.py      # outputs in runs/segmenter_int8/

1. An INT8 copy of isic-unet-lite0's ONNX file (dermaseg.export.quantize, static QDQ), calibrated
   on 32 images of the model's training split (the percentile calibrator holds every activation
   of every calibration image: a U-Net's full-resolution decoder maps are large).
2. `dermaseg evaluate` of both on the ISIC 2017 test split (predict's own path), paired by
   `dermaseg compare`: the INT8 copy qualifies only if its Dice is within 0.002 of FP32's.
3. The network alone, ms/image (batches of 4 at 256 px, 2 threads, interleaved rounds, median).

Variants: `--name int8_head_fp32 --keep-fp32 /segmentation_head/segmentation_head.1/Conv` (the
last layer in FP32), `--name int8_conv_only --only-ops Conv` (only convolutions quantised).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SPLIT = REPO / "configs" / "splits" / "isic2017_unet_lite0_split.csv"


def calibration_inputs(n: int) -> np.ndarray:
    from dermaseg.data.readers import open_dataset
    from dermaseg.data.splits import read_split
    from dermaseg.segment.segmenter import Segmenter

    seg = Segmenter()
    ds = open_dataset(DATA / "isic2017")
    train = sorted(i for i, part in read_split(SPLIT).items() if part == "train")
    picked = np.random.default_rng(0).choice(len(train), size=n, replace=False)
    images = [ds.load(ds.record(train[i])).image for i in sorted(picked)]
    return np.stack([seg.prepare(im)[0] for im in images])


def network_ms(files: dict, rounds: int, threads: int) -> dict:
    from dermaseg.core.onnxfile import open_session

    return time_sessions({k: open_session(f, threads)[0] for k, f in files.items()}, rounds)


def time_sessions(sessions: dict, rounds: int) -> dict:
    """ms/image of each session on batches of 4 at 256 px, interleaved rounds, median."""
    x = np.random.default_rng(0).uniform(-1, 1, (4, 3, 256, 256)).astype(np.float32)
    times = {k: [] for k in sessions}
    for s in sessions.values():
        s.run(None, {"image": x})
    for _ in range(rounds):
        for k, s in sessions.items():
            start = time.perf_counter()
            for _ in range(25):
                s.run(None, {"image": x})
            times[k].append((time.perf_counter() - start) * 1000 / 100)
    return {k: statistics.median(t) for k, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "runs" / "segmenter_int8"))
    ap.add_argument("--calibration-images", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep-fp32", nargs="*", default=[], metavar="NODE",
                    help="graph nodes left in FP32 (e.g. /segmentation_head/segmentation_head.1/Conv)")
    ap.add_argument("--only-ops", nargs="*", default=None, metavar="OP",
                    help="quantise only these operator types (e.g. Conv)")
    ap.add_argument("--name", default="int8", help="the INT8 variant's name in the outputs")
    args = ap.parse_args()
    from dermaseg.core.zoo import resolve
    from dermaseg.export.quantize import quantize_int8

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fp32 = resolve("isic-unet-lite0", "segmentation").path
    int8 = out / f"{fp32.stem}.{args.name}.onnx"
    if not int8.is_file():
        x = calibration_inputs(args.calibration_images)
        quantize_int8(fp32, int8, [x], batch_size=8, keep_fp32=args.keep_fp32, op_types=args.only_ops)
    for name, model in (("fp32", "isic-unet-lite0"), (args.name, str(int8))):
        subprocess.run(["dermaseg", "evaluate", "--model", model, "--data", str(DATA / "isic2017"), "--split-file",
                        str(SPLIT), "--out", str(out / f"isic_test_{name}"), "--overwrite"], check=True)
    subprocess.run(["dermaseg", "compare", str(out / "isic_test_fp32"), str(out / f"isic_test_{args.name}"),
                    "--out", str(out / f"compare_{args.name}"), "--overwrite"], check=True)
    ms = network_ms({"fp32": fp32, args.name: int8}, args.rounds, args.threads)
    comparison = json.loads((out / f"compare_{args.name}" / "comparison.json").read_text())
    summary = {"network_ms_per_image": ms, "keep_fp32": args.keep_fp32, "only_ops": args.only_ops,
               "comparison": comparison}
    (out / f"study_{args.name}.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({"network_ms_per_image": ms}), file=sys.stderr)


if __name__ == "__main__":
    main()
