"""Per-image Dice on several evaluation folders side by side (held-out vs. another clinic).

Usage (each folder written by `dermaseg evaluate`):

    python scripts/cross_dataset_figure.py --out docs/model_card/cross_dataset.png \
        "ISIC 2017 test=evaluations/isic2017_test" "HAM10000=evaluations/ham10000"

Draws, for every folder, the distribution of per-image Dice (a box and every image as a dot)
with the macro-average and the share of images below thresholded-Jaccard's 0.65 cut.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_column(folder: Path, column: str) -> np.ndarray:
    with open(folder / "per_image.csv", newline="") as fh:
        return np.array([float(row[column]) for row in csv.DictReader(fh)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", metavar="LABEL=FOLDER")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    labels, dice, jaccard = [], [], []
    for item in args.sets:
        label, _, folder = item.partition("=")
        labels.append(label)
        dice.append(read_column(Path(folder), "dice"))
        jaccard.append(read_column(Path(folder), "jaccard"))
    fig, ax = plt.subplots(figsize=(1.6 + 2.2 * len(labels), 4.2))
    ax.boxplot(dice, showfliers=False, widths=0.5)
    rng = np.random.default_rng(0)
    for i, values in enumerate(dice, start=1):
        ax.scatter(i + rng.uniform(-0.18, 0.18, len(values)), values, s=3, alpha=0.25, color="tab:blue")
    ax.set_xticks(range(1, len(labels) + 1))
    ax.set_xticklabels([f"{lab}\nn={len(d)}, mean Dice {d.mean():.3f}\nJaccard < 0.65: {np.mean(j < 0.65):.1%}"
                        for lab, d, j in zip(labels, dice, jaccard)], fontsize=8)
    ax.set_ylabel("per-image Dice")
    ax.set_ylim(0, 1.01)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Per-image Dice, held-out and cross-dataset")
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"figure written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
