"""Images/s the training data pipeline delivers: load + preprocess + augment at 256x256.

For 0, 1 and 2 DataLoader workers it measures
  - first epoch: building the cache (decode JPEG/PNG, preprocess, resize; in `workers`
    processes) plus one augmented epoch over it,
  - cached epochs: augmented epochs over the in-memory cache (the steady state of training),
  - uncached: an epoch with cache=False (decode + preprocess + augment every item).
Run by hand, nice'd, on the machine you train on:

    nice -n 10 python benchmarks/data_throughput.py --data ../shared/data/isic2017
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import torch
from torch.utils.data import DataLoader

from dermaseg.data import DataQualityWarning, open_dataset
from dermaseg.segment.dataset import SegmentationDataset
from dermaseg.transforms.pipeline import DEFAULT_AUGMENT, PipelineConfig

CONFIGS = {
    "default": dict(),
    "all-preprocessing": dict(hair_removal=True, colour_constancy=True, clahe=True, sigmoid_contrast=True),
}


def run_epoch(ds: SegmentationDataset, workers: int, batch_size: int, epoch: int) -> float:
    """Seconds for one shuffled epoch through a DataLoader (worker start-up included)."""
    ds.set_epoch(epoch)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=False,
                        generator=torch.Generator().manual_seed(epoch))
    start = time.perf_counter()
    seen = 0
    for batch in loader:
        seen += len(batch["image_id"])
    assert seen == len(ds)
    return time.perf_counter() - start


def measure(dataset, ids, config: PipelineConfig, workers: int, batch_size: int, cached_epochs: int) -> dict:
    start = time.perf_counter()
    ds = SegmentationDataset(dataset, ids, config, train=True, seed=0, workers=workers)
    build = time.perf_counter() - start
    first = build + run_epoch(ds, workers, batch_size, 0)
    cached = sum(run_epoch(ds, workers, batch_size, e) for e in range(1, 1 + cached_epochs))
    n = len(ds)
    lazy = SegmentationDataset(dataset, ids, config, train=True, seed=0, cache=False)
    uncached = run_epoch(lazy, workers, batch_size, 0)
    return {"n": n, "build_s": build, "first": n / first, "cached": n * cached_epochs / cached,
            "uncached": n / uncached}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/isic2017")
    parser.add_argument("--n", type=int, default=0, help="images to use (0 = all)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cached-epochs", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()

    torch.set_num_threads(1)  # the data side must not lean on intra-op threads
    warnings.simplefilter("ignore", DataQualityWarning)
    dataset = open_dataset(args.data)
    ids = [r.image_id for r in dataset.records if r.mask_path is not None]
    if args.n:
        ids = ids[:args.n]
    print(f"{args.data}: {len(ids)} images, {args.size}x{args.size}, batch {args.batch_size}, "
          f"augment = DEFAULT_AUGMENT ({', '.join(DEFAULT_AUGMENT)})")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average before: {os.getloadavg()[0]:.2f}, torch {torch.__version__}")
    print()
    header = "| config | workers | first epoch (build cache + augment) | cached epochs | uncached (cache=False) |"
    print(header)
    print("|" + "---|" * 5)
    for name in args.configs:
        config = PipelineConfig(size=args.size, augment=DEFAULT_AUGMENT, **CONFIGS[name])
        for workers in args.workers:
            r = measure(dataset, ids, config, workers, args.batch_size, args.cached_epochs)
            print(f"| {name} | {workers} | {r['first']:.0f} img/s (cache built in {r['build_s']:.1f} s) "
                  f"| {r['cached']:.0f} img/s | {r['uncached']:.0f} img/s |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
