"""Scores by lesion size: the macro-averaged ISIC metrics within strata of the annotated lesion's
share of the frame.

A model can hold its overall mean while failing on one kind of image: lesions that fill a few
percent of a wide photograph are where segmentation models paint several times too much, and
they are a minority of every ISIC split. The strata make that visible in every evaluation.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from dermaseg.segment.metrics import METRIC_NAMES, summarise

#: Upper bounds of the strata, as the lesion's share of the image's pixels; a stratum holds
#: the shares above the previous bound up to its own. Images without a lesion get their own.
LESION_SHARE_BOUNDS: tuple[float, ...] = (0.02, 0.05, 0.10, 0.20, 0.40, 1.0)


def lesion_share(row: Mapping[str, Any]) -> float:
    """The annotated lesion's share of the frame, from a per-image row's truth_area, height, width."""
    pixels = int(row["height"]) * int(row["width"])
    if pixels <= 0:
        raise ValueError(f"{row.get('image_id', '?')}: image has no pixels ({row['height']} x {row['width']})")
    return int(row["truth_area"]) / pixels


def _check(bounds: Sequence[float]) -> None:
    if not bounds or list(bounds) != sorted(bounds) or bounds[0] <= 0 or bounds[-1] < 1.0:
        raise ValueError(f"bounds must rise from above 0 to 1.0, got {list(bounds)}")


def stratum_of(share: float, bounds: Sequence[float] = LESION_SHARE_BOUNDS) -> tuple[float, float]:
    """(low, high] of the stratum holding a lesion share; (0.0, 0.0) for an image without a lesion."""
    if share == 0.0:
        return (0.0, 0.0)
    low = 0.0
    for high in bounds:
        if share <= high:
            return (low, high)
        low = high
    raise ValueError(f"lesion share {share} is above 1")


def stratum_label(low: float, high: float) -> str:
    return "no lesion" if high == 0.0 else f"{100 * low:g}–{100 * high:g} %"


def group_by_stratum(shares: Sequence[float],
                     bounds: Sequence[float] = LESION_SHARE_BOUNDS) -> dict[tuple[float, float], list[int]]:
    """{(low, high): positions in `shares` of the images in that stratum}, smallest stratum first,
    empty strata left out."""
    _check(bounds)
    groups: dict[tuple[float, float], list[int]] = {}
    for position, share in enumerate(shares):
        groups.setdefault(stratum_of(share, bounds), []).append(position)
    return dict(sorted(groups.items()))


def by_lesion_size(rows: Sequence[Mapping[str, Any]],
                   bounds: Sequence[float] = LESION_SHARE_BOUNDS) -> list[dict[str, Any]]:
    """One entry per non-empty stratum, smallest lesions first: its label, share bounds,
    n_images and the mean of every ISIC metric over its images."""
    strata = []
    for (low, high), positions in group_by_stratum([lesion_share(row) for row in rows], bounds).items():
        entry = {"share": stratum_label(low, high), "low": low, "high": high}
        entry.update(summarise([rows[i] for i in positions], METRIC_NAMES))
        strata.append(entry)
    return strata


def format_strata(strata: Sequence[Mapping[str, Any]]) -> str:
    """A few printable lines: each stratum's image count, Dice, thresholded Jaccard and sensitivity."""
    lines = ["by lesion share of the frame:"]
    for s in strata:
        lines.append(f"  {s['share']:>10}  {s['n_images']:5d} images  dice {s['dice']:.3f}  "
                     f"threshold_jaccard {s['threshold_jaccard']:.3f}  sensitivity {s['sensitivity']:.3f}")
    return "\n".join(lines)
