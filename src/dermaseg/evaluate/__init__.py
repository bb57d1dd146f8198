"""Evaluation: the official ISIC metrics, reports and plots.

The metrics (numpy only) import eagerly; the report and plotting helpers pull in matplotlib
and OpenCV, so they load on first use and `dermaseg --help` stays fast.
"""

from dermaseg.evaluate.metrics import (
    JACCARD_THRESHOLD,
    METRIC_NAMES,
    ThresholdSweep,
    confusion_counts,
    image_metrics,
    metrics_from_counts,
    soft_dice,
    summarise,
)

_LAZY = {
    "ReportBuilder": "dermaseg.evaluate.report",
    "write_report": "dermaseg.evaluate.report",
    "plot_learning_curves": "dermaseg.evaluate.plots",
}

__all__ = [
    "JACCARD_THRESHOLD", "METRIC_NAMES", "ThresholdSweep", "confusion_counts", "image_metrics",
    "metrics_from_counts", "soft_dice", "summarise", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dermaseg.evaluate' has no attribute '{name}'")
