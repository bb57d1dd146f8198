"""`dermaseg predict` against a plain smp/PyTorch eager script, whole process, interleaved.

Makes realistic dermoscope photographs first: ../shared holds 256-px copies only, so N of them
are upscaled (bicubic) to --size (default 3000x2000, 6 Mpx) and saved as JPEG quality 95. Then,
for each round, runs in fresh processes, in alternating order:
- plain:    a 25-line script a researcher would write: torch + the shipped weights in eager
            mode, cv2 decode at full size, the same resize to the model input, sigmoid, the
            probability resized to full size, threshold, cv2.imwrite of the mask. Masks only.
- dermaseg: `dermaseg predict FOLDER --out OUT` with its defaults (mask, outline overlay,
            measurements.csv/json), on ONNX Runtime.
and prints the median whole-process time of each, the ratio (plain / dermaseg: above 1 means
dermaseg is faster), ms/image per stage (from the plain script's own timers and from
dermaseg's measurements.json; dermaseg's stages overlap, so they do not add up to its total),
one-image start-to-end time and peak memory on one 24-Mpx photograph.

    python benchmarks/predict_speed.py                       # 98 images of 6 Mpx, 3 rounds
    python benchmarks/predict_speed.py --images 3 --size 600x400 --rounds 1 --no-24mp   # smoke run
    python benchmarks/predict_speed.py --dermaseg-python /tmp/infer-venv/bin/python     # the light install

Run it on an otherwise idle machine: both sides share the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "isic2017" / "ISIC-2017_Training_Data"

PLAIN_SCRIPT = r'''
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
import cv2, numpy as np, torch
from dermaseg.segment.modelfile import build_from_file   # the shipped weights as an smp/PyTorch module
src, out = Path(sys.argv[1]), Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
model, meta = build_from_file(sys.argv[3]); size = meta["pipeline"]["size"]
t = {"startup_ms": (time.perf_counter() - t0) * 1000, "decode_ms": 0.0, "network_ms": 0.0, "restore_ms": 0.0,
     "write_ms": 0.0}
files = sorted(src.glob("*.jpg"))
for f in files:
    a = time.perf_counter(); img = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB); h, w = img.shape[:2]
    b = time.perf_counter(); x = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    x = (x / 127.5 - 1.0).transpose(2, 0, 1)[None]          # the model's "symmetric" normalisation
    with torch.inference_mode():
        p = torch.sigmoid(model(torch.from_numpy(np.ascontiguousarray(x))))[0, 0].numpy()
    c = time.perf_counter(); m = (cv2.resize(p, (w, h)) >= meta["threshold"]).astype(np.uint8) * 255
    d = time.perf_counter(); cv2.imwrite(str(out / (f.stem + "_segmentation.png")), m)
    e = time.perf_counter()
    for k, (u, v) in {"decode_ms": (a, b), "network_ms": (b, c), "restore_ms": (c, d), "write_ms": (d, e)}.items():
        t[k] += (v - u) * 1000
print(json.dumps({k: (v if k == "startup_ms" else v / max(1, len(files))) for k, v in t.items()}))
'''


def make_photographs(folder: Path, n: int, size: tuple[int, int]) -> list[Path]:
    """N JPEGs (quality 95) of `size` (w, h) upscaled from the shared 256-px images; cached."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(SOURCE.glob("*.jpg"))[:n]
    if len(sources) < n:
        sys.exit(f"only {len(sources)} images in {SOURCE}, {n} asked for")
    out = []
    for src in sources:
        dst = folder / src.name
        if not dst.is_file():
            img = cv2.imread(str(src))
            cv2.imwrite(str(dst), cv2.resize(img, size, interpolation=cv2.INTER_CUBIC), [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.append(dst)
    return out


def run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """run() with the child's own peak RSS (os.wait4 on POSIX)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read()[-2000:]}")
        return wall, usage.ru_maxrss / 1024.0, out.read()


def dermaseg_cmd(python: str, inputs: list[str], out: Path, extra: list[str]) -> list[str]:
    return [python, "-m", "dermaseg.cli", "predict", *inputs, "--out", str(out), "--overwrite", *extra]  # each round rewrites


def stage_means(out: Path) -> dict:
    images = json.loads((out / "measurements.json").read_text())["images"]
    keys = sorted({k for e in images for k in e["timings_ms"]})
    return {k: statistics.fmean(e["timings_ms"].get(k, 0.0) for e in images) for k in keys}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=98)
    ap.add_argument("--size", default="3000x2000", help="W x H of the synthetic photographs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "dermaseg-predict-speed"))
    ap.add_argument("--model", default="isic-unet-lite0", help="shipped name (its .pt drives the plain script)")
    ap.add_argument("--dermaseg-python", default=sys.executable, help="python of the install to time dermaseg in")
    ap.add_argument("--plain-python", default=sys.executable, help="python with torch, for the plain script")
    ap.add_argument("--no-24mp", action="store_true", help="skip the 24-Mpx peak-memory run")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)

    from dermaseg.core.zoo import SHIPPED

    w, h = (int(v) for v in args.size.lower().split("x"))
    work = Path(args.work)
    folder = work / f"photos_{w}x{h}"
    files = make_photographs(folder, args.images, (w, h))
    script = work / "plain_smp.py"
    script.write_text(PLAIN_SCRIPT)
    weights = str(SHIPPED[args.model].torch_path)

    plain, ours, plain_stages, our_stages, peaks = [], [], [], [], {"plain": [], "dermaseg": []}
    for r in range(args.rounds):
        order = ("plain", "dermaseg") if r % 2 == 0 else ("dermaseg", "plain")
        for side in order:
            out = work / f"out_{side}"
            if side == "plain":
                wall, peak, stdout = run_measured([args.plain_python, str(script), str(folder), str(out), weights])
                plain.append(wall)
                plain_stages.append(json.loads(stdout.strip().splitlines()[-1]))
            else:
                wall, peak, _ = run_measured(dermaseg_cmd(args.dermaseg_python, [str(folder)], out,
                                                          ["--model", args.model]))
                ours.append(wall)
                our_stages.append(stage_means(out))
            peaks[side].append(peak)
            print(f"round {r + 1}: {side:8s} {wall:7.2f} s  peak {peak:6.0f} MB", flush=True)

    one = [run_measured(dermaseg_cmd(args.dermaseg_python, [str(files[0])], work / "out_one", []))[0]
           for _ in range(3)]
    big_peak = None
    if not args.no_24mp:
        big = make_photographs(work / "photos_6000x4000", 1, (6000, 4000))
        big_peak = run_measured(dermaseg_cmd(args.dermaseg_python, [str(big[0])], work / "out_24mp", []))[1]

    med_plain, med_ours = statistics.median(plain), statistics.median(ours)
    n = len(files)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "images": n, "size": f"{w}x{h}", "rounds": args.rounds,
        "plain_s": plain, "dermaseg_s": ours,
        "plain_median_s": med_plain, "dermaseg_median_s": med_ours,
        "speedup_plain_over_dermaseg": med_plain / med_ours,
        "plain_ms_per_image": 1000 * med_plain / n, "dermaseg_ms_per_image": 1000 * med_ours / n,
        "plain_stages_ms": {k: statistics.fmean(s[k] for s in plain_stages) for k in plain_stages[0]},
        "dermaseg_stages_ms": {k: statistics.fmean(s[k] for s in our_stages) for k in our_stages[0]},
        "peak_mb": {k: max(v) for k, v in peaks.items()},
        "one_image_s": statistics.median(one), "peak_mb_24mp": big_peak,
    }
    print(f"\n{n} images of {w}x{h}, {args.rounds} round(s), {result['machine']}")
    print(f"plain smp/PyTorch script (masks only): {med_plain:7.2f} s  ({result['plain_ms_per_image']:.0f} ms/image)")
    print(f"dermaseg predict (mask+overlay+measurements): {med_ours:7.2f} s  "
          f"({result['dermaseg_ms_per_image']:.0f} ms/image)")
    print(f"ratio plain / dermaseg: {result['speedup_plain_over_dermaseg']:.2f}x")
    print("plain stages, ms/image: " + ", ".join(f"{k} {v:.1f}" for k, v in result["plain_stages_ms"].items()))
    print("dermaseg stages, ms/image (overlapping): "
          + ", ".join(f"{k} {v:.1f}" for k, v in result["dermaseg_stages_ms"].items()))
    print(f"one image, whole process: {result['one_image_s']:.2f} s; peak memory: plain {result['peak_mb']['plain']:.0f} MB,"
          f" dermaseg {result['peak_mb']['dermaseg']:.0f} MB"
          + (f"; 24-Mpx photograph: {big_peak:.0f} MB" if big_peak else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
