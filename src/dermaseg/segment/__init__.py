"""The segmentation task: recipe, losses, Lightning module, training and studies (`train`,
`study`), evaluation with the official ISIC metrics (`evaluate`, `metrics`, `report`, `strata`,
`compare`, `plots`), and inference (`segmenter`, `batch`, `stages`, `postprocess`, `working`,
`overlay`), with the model file (`modelfile`) and the commands (`cli`).

The public names import from here. The metrics (numpy only) load eagerly; the rest on first
use, so that `dermaseg --help` and the inference install never pay for torch or matplotlib.
"""

from dermaseg.segment.metrics import (
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
    "Segmenter": "dermaseg.segment.segmenter",
    "SegmentationResult": "dermaseg.segment.segmenter",
    "predict_files": "dermaseg.segment.batch",
    "SegmentationDataset": "dermaseg.segment.dataset",
    "load_config": "dermaseg.segment.config",
    "ReportBuilder": "dermaseg.segment.report",
    "write_report": "dermaseg.segment.report",
    "plot_learning_curves": "dermaseg.segment.plots",
}

__all__ = [
    "JACCARD_THRESHOLD", "METRIC_NAMES", "ThresholdSweep", "confusion_counts", "image_metrics",
    "metrics_from_counts", "soft_dice", "summarise", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dermaseg.segment' has no attribute '{name}'")
