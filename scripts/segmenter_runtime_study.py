"""Would OpenVINO in bfloat16 do for the shipped segmentation network? Accuracy and cost against
ONNX Runtime FP32 (what `dermaseg predict` runs by default).

    python scripts/segmenter_runtime_study.py      # outputs in runs/segmenter_runtime/; ~5 min on 2 cores

1. `dermaseg evaluate` (predict's own path: decoding, working size, post-processing, second look)
   of isic-unet-lite0 on the ISIC 2017 test split and on all 137 full-resolution
   `clinical_photos_masked` photographs, with `--runtime onnxruntime` and `--runtime openvino`
   (bfloat16 where the CPU has it), paired by `dermaseg compare`. The bar is the INT8 study's:
   Dice within 0.002.
2. The network alone, ms/image (batches of 4 at 256 px, 2 threads, interleaved rounds, median):
   ONNX Runtime FP32, OpenVINO FP32 and OpenVINO bfloat16.
The whole `dermaseg predict` is timed with farm-bench (docs/results.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))   # segmenter_int8_study's timing

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SETS = {"isic_test": ["--data", str(DATA / "isic2017"), "--split-file",
                      str(REPO / "configs" / "splits" / "isic2017_unet_lite0_split.csv")],
        "clinical_all": ["--data", str(DATA / "not_dermoscopy" / "clinical_photos_masked"), "--split", "all"]}


def network_ms(rounds: int, threads: int) -> dict:
    from dermaseg.core.onnxfile import open_session
    from dermaseg.core.zoo import resolve
    from segmenter_int8_study import time_sessions

    path = resolve("isic-unet-lite0", "segmentation").path
    return time_sessions({"onnxruntime-fp32": open_session(path, threads)[0],
                          "openvino-fp32": open_session(path, threads, "openvino", "fp32")[0],
                          "openvino-bf16": open_session(path, threads, "openvino", "bf16")[0]}, rounds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "runs" / "segmenter_runtime"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, data in SETS.items():
        for runtime in ("onnxruntime", "openvino"):
            subprocess.run(["dermaseg", "evaluate", "--model", "isic-unet-lite0", *data, "--runtime", runtime,
                            "--out", str(out / f"{name}_{runtime}"), "--overwrite"], check=True)
        subprocess.run(["dermaseg", "compare", str(out / f"{name}_onnxruntime"), str(out / f"{name}_openvino"),
                        "--out", str(out / f"compare_{name}"), "--overwrite"], check=True)
        summary[name] = json.loads((out / f"compare_{name}" / "comparison.json").read_text())
    summary["network_ms_per_image"] = network_ms(args.rounds, args.threads)
    (out / "study.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({"network_ms_per_image": summary["network_ms_per_image"]}), file=sys.stderr)


if __name__ == "__main__":
    main()
