"""The per-epoch table and its learning-curve figure, one of each for both tasks.

Each task names its columns (segmentation: metrics.csv; classification: history.csv) in a
`Curves` description; the table is rewritten whole after every epoch, keeping the epochs before
it, so a resumed run that repeats an epoch replaces that row instead of adding a second one.
The figure draws on a bare `matplotlib.figure.Figure` (no pyplot): no global state, no GUI
backend, safe in a Lightning callback.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Curves:
    """Which columns of a per-epoch table are drawn, and how."""

    losses: dict[str, str]                 # column -> legend label (left panel)
    scores: dict[str, str]                 # column -> legend label (middle panel); "train…" labels dashed
    kept: str | None = None                # score column whose best epoch is marked (the kept one)
    kept_label: str = "kept"
    lower_is_better: bool = False
    loss_title: str = "Loss"
    score_title: str = "Validation"
    score_limits: tuple[float, float] | None = None


SEGMENTATION = Curves(
    losses={"train_loss": "train", "valid_loss": "validation"},
    scores={"dice": "validation Dice", "jaccard": "validation Jaccard", "accuracy": "validation accuracy",
            "train_dice": "train Dice"},
    kept="dice", kept_label="best val Dice", score_title="Dice / Jaccard / accuracy")


def classification_curves(select: str = "balanced_accuracy") -> Curves:
    """history.csv of `dermaseg classify train`; `select` is the metric that picks the kept epoch."""
    return Curves(
        losses={"train_loss": "train", "val_loss": "validation"},
        scores={"val_accuracy": "accuracy", "val_balanced_accuracy": "balanced accuracy", "val_macro_f1": "macro F1"},
        kept=f"val_{select}", kept_label=f"kept ({select.replace('_', ' ')})", lower_is_better=select == "loss",
        loss_title="Loss (cross-entropy)", score_limits=(0.0, 1.0))


def record_epoch(path: Path | str, row: dict, columns: list[str], earlier: list[dict] | None = None) -> list[dict]:
    """Write the table at `path` with `row` after the epochs before it; return all the rows.

    `earlier`: the rows so far (a callback that keeps them in its checkpoint state); None reads
    them from the file, if any.
    """
    path = Path(path)
    if earlier is None:
        earlier = []
        if path.exists():
            with open(path, newline="") as fh:
                earlier = list(csv.DictReader(fh))
    rows = [r for r in earlier if int(r["epoch"]) < int(row["epoch"])] + [row]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return rows


def plot_learning_curves(table_csv: Path | str, out_png: Path | str, curves: Curves = SEGMENTATION) -> Path:
    """Loss (train vs. validation), the scores, and the learning rate when recorded, per epoch.

    Rows that share an epoch are merged, so a Lightning CSVLogger file (train and validation
    values on separate rows) plots as well.
    """
    import pandas as pd
    from matplotlib.figure import Figure

    table_csv = Path(table_csv)
    if not table_csv.is_file():
        raise FileNotFoundError(f"{table_csv}: no such metrics file")
    try:
        df = pd.read_csv(table_csv)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise ValueError(f"{table_csv}: not a readable CSV ({exc})") from None
    if "epoch" not in df.columns:
        raise ValueError(f"{table_csv}: no 'epoch' column (columns: {', '.join(df.columns)})")
    df = df.dropna(subset=["epoch"]).groupby("epoch", sort=True).last()

    def series(name: str):
        if name not in df.columns:
            return None
        s = pd.to_numeric(df[name], errors="coerce").dropna()
        return s if len(s) else None

    losses = {label: series(col) for col, label in curves.losses.items()}
    scores = {label: series(col) for col, label in curves.scores.items()}
    lr = series("lr")
    if all(s is None for s in (*losses.values(), *scores.values())):
        raise ValueError(f"{table_csv}: nothing to plot; expected some of "
                         f"{', '.join([*curves.losses, *curves.scores])} (columns: {', '.join(map(str, df.columns))})")

    n_panels = 3 if lr is not None else 2
    fig = Figure(figsize=(5.2 * n_panels, 4.0), layout="constrained")
    axes = fig.subplots(1, n_panels)
    for label, s in losses.items():
        if s is not None:
            axes[0].plot(s.index, s.values, marker="o", markersize=3, label=label)
    axes[0].set(title=curves.loss_title, xlabel="epoch", ylabel="loss")
    for label, s in scores.items():
        if s is not None:
            axes[1].plot(s.index, s.values, "--" if label.startswith("train") else "-", marker="o", markersize=3,
                         label=label)
    kept = series(curves.kept) if curves.kept else None
    if kept is not None:
        epoch = kept.idxmin() if curves.lower_is_better else kept.idxmax()
        axes[1].axvline(epoch, color="grey", linestyle=":",
                        label=f"{curves.kept_label} {kept[epoch]:.3f} (epoch {epoch:g})")
    axes[1].set(title=curves.score_title, xlabel="epoch", ylabel="score")
    if curves.score_limits:
        axes[1].set_ylim(*curves.score_limits)
    if lr is not None:
        axes[2].plot(lr.index, lr.values, marker="o", markersize=3, color="tab:purple")
        axes[2].set(title="Learning rate", xlabel="epoch", ylabel="lr")
        if (lr > 0).all() and lr.max() / lr.min() > 20:
            axes[2].set_yscale("log")
    for ax in axes[:2]:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(table_csv.parent.name or "training run", fontsize=10)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110, bbox_inches="tight")
    return out_png
