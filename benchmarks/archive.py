"""An archive-sized run: images/s and memory over time of `predict`, `classify predict` and `evaluate`.

Makes N full-resolution photographs (the shared ISIC 2017 images upscaled to --size, as
benchmarks/predict_speed.py does, then repeated under new names as hard links until there are
N), runs each command over the folder in a fresh process, samples the process's resident memory
twice a second, and prints images/s, the peak and the memory at 10 %, 50 % and 100 % of the run,
so that growth with the number of images shows.

    python benchmarks/archive.py                                   # 10,000 images of 6 Mpx
    python benchmarks/archive.py --images 1000 --commands predict  # a shorter run
    python benchmarks/archive.py --commands evaluate               # against the masks, upscaled
    python benchmarks/archive.py --images 20 --size 600x400        # smoke run
    python benchmarks/archive.py --images 1000 --commands predict --cluster-workers 1 2   # + a Dask cluster

With --cluster-workers, `predict --cluster` is also timed on a local Dask cluster of separate
processes (a scheduler and N single-threaded workers) for each N: on one machine this shows the
engine's overhead against a local run, not the gain of more machines.

Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from predict_speed import make_photographs  # noqa: E402 - the same photographs as the speed benchmark

COMMANDS = {
    "predict": ["predict", "{images}", "--out", "{out}", "--overwrite"],
    "classify": ["classify", "predict", "{images}", "--out", "{out}", "--overwrite"],
    # the training install's scoring of the same photographs against their (upscaled) masks
    "evaluate": ["evaluate", "--model", "isic-unet-lite0", "--data", "{labelled}", "--split", "all", "--out", "{out}",
                 "--overwrite"],
}
MASKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "isic2017" / "ISIC-2017_Training_Part1_GroundTruth"


def archive(work: Path, n: int, size: tuple[int, int]) -> Path:
    """A folder of `n` photographs: the upscaled sources, then hard links to them under new names."""
    sources = make_photographs(work / f"photos_{size[0]}x{size[1]}", min(n, 2000), size)
    folder = work / f"archive_{n}_{size[0]}x{size[1]}"
    if folder.is_dir() and len(list(folder.iterdir())) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(n):
        src = sources[i % len(sources)]
        dst = folder / f"{src.stem}_{i // len(sources):03d}.jpg"
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
    return folder


def labelled(work: Path, images: Path, size: tuple[int, int]) -> Path:
    """An images/ + masks/ folder over the archive's photographs (hard links) with each ISIC 2017
    mask upscaled to the photograph's size (nearest neighbour), for `evaluate`."""
    import cv2

    folder = work / f"labelled_{images.name}"
    if (folder / "masks").is_dir() and len(list((folder / "masks").iterdir())) == len(list(images.iterdir())):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    upscaled = work / f"masks_{size[0]}x{size[1]}"
    upscaled.mkdir(exist_ok=True)
    for photo in sorted(images.iterdir()):
        source_id = "_".join(photo.stem.split("_")[:2])        # ISIC_0000000_003 -> ISIC_0000000
        mask = upscaled / f"{source_id}_segmentation.png"
        if not mask.is_file():
            small = cv2.imread(str(MASKS / f"{source_id}_segmentation.png"), cv2.IMREAD_GRAYSCALE)
            cv2.imwrite(str(mask), cv2.resize(small, size, interpolation=cv2.INTER_NEAREST))
        for src, dst in ((photo, folder / "images" / photo.name),
                         (mask, folder / "masks" / f"{photo.stem}_segmentation.png")):
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
    return folder


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(python: str, words: list[str], images: Path, out: Path, n: int, labelled_folder: Path | None = None) -> dict:
    argv = [python, "-m", "dermaseg.cli", *[w.format(images=images, out=out, labelled=labelled_folder) for w in words]]
    started = time.perf_counter()
    # stderr to a file, not a pipe: 10,000 images of progress-bar updates fill a pipe nobody
    # reads until the end, and the run then waits on its own progress bar
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, text=True)
        samples: list[tuple[float, float]] = []
        while proc.poll() is None:
            value = rss_mb(proc.pid)
            if value is not None:
                samples.append((time.perf_counter() - started, value))
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        log.seek(0)
        err = log.read()
    if proc.returncode not in (0, 3):
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{err[-2000:]}")

    def at(share: float) -> float:
        return next((v for t, v in samples if t >= share * seconds), samples[-1][1]) if samples else float("nan")

    if words[0] == "evaluate" and not (out / "per_image.csv").is_file():
        sys.exit(f"{' '.join(argv)} wrote no per_image.csv:\n{err[-2000:]}")
    return {"command": " ".join(words[:2] if words[0] == "classify" else words[:1]), "images": n,
            "seconds": round(seconds, 1), "images_per_s": round(n / seconds, 2),
            "peak_rss_mb": round(max(v for _, v in samples), 0) if samples else None,
            "rss_mb_at_10_50_100": [round(at(s), 0) for s in (0.1, 0.5, 1.0)],
            "rss_mb_over_time": [[round(t, 1), round(v, 0)] for t, v in samples[::max(1, len(samples) // 200)]]}


def local_cluster(python: str, workers: int, work: Path):
    """A scheduler and `workers` worker processes on this machine; (address, processes)."""
    address_file = work / f"scheduler_{workers}.json"
    address_file.unlink(missing_ok=True)
    procs = [subprocess.Popen([python, "-m", "distributed.cli.dask_scheduler", "--scheduler-file", str(address_file),
                               "--port", "0", "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    while not address_file.exists():
        time.sleep(0.1)
    address = json.loads(address_file.read_text())["address"]
    procs += [subprocess.Popen([python, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads",
                                "1", "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
              for _ in range(workers)]
    subprocess.run([python, "-c", f"from distributed import Client; Client({address!r}).wait_for_workers({workers})"],
                   check=True)
    return address, procs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--size", default="3000x2000", help="W x H of the photographs")
    ap.add_argument("--commands", nargs="+", default=list(COMMANDS), choices=list(COMMANDS))
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "dermaseg-archive"))
    ap.add_argument("--dermaseg-python", default=sys.executable, help="python of the install to time")
    ap.add_argument("--evaluate-python", default=sys.executable,
                    help="python of a training install, for `evaluate` (default: this one)")
    ap.add_argument("--cluster-workers", type=int, nargs="*", default=[],
                    help="also time predict --cluster on a local cluster with this many workers (needs .[cluster])")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    work = Path(args.work)
    images = archive(work, args.images, (w, h))
    results = [run(args.evaluate_python if c == "evaluate" else args.dermaseg_python, COMMANDS[c], images,
                   work / f"out_{c}", args.images, labelled(work, images, (w, h)) if c == "evaluate" else None)
               for c in args.commands]
    for workers in args.cluster_workers:
        address, procs = local_cluster(args.dermaseg_python, workers, work)
        try:
            r = run(args.dermaseg_python, [*COMMANDS["predict"], "--cluster", address], images, work / "out_cluster",
                    args.images)
        finally:
            for proc in procs[::-1]:
                proc.terminate()
                proc.wait()
        r["command"] = f"predict --cluster (local, {workers} worker{'s' if workers > 1 else ''})"
        results.append(r)
    print(f"{args.images} photographs of {w}x{h}")
    print("| command | images/s | peak RSS | RSS at 10 % / 50 % / 100 % of the run |")
    print("| --- | --- | --- | --- |")
    for r in results:
        a, b, c = r["rss_mb_at_10_50_100"]
        print(f"| `dermaseg {r['command']}` | {r['images_per_s']} | {r['peak_rss_mb']:.0f} MB | "
              f"{a:.0f} / {b:.0f} / {c:.0f} MB |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
