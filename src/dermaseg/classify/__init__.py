"""Lesion classification: diagnosis from a dermoscopic image.

- `labels`: which classes a dataset's records carry (HAM10000's seven, ISIC 2017's three, PH2's
  three, or melanoma vs. rest) and each record's class index.
- `sampling`: class-imbalance strategies for the training split (undersample, oversample,
  class-weighted loss, weighted sampler).
- `splits`: which records a run uses, and lesion-grouped (or, on request, naive image-level)
  train/val/test splits.
- `predictions`: the per-image predictions file every run and evaluation writes.
- `metrics`, `plots`: accuracy, balanced accuracy, macro F1, per-class precision/recall,
  one-vs-rest AUC; confusion matrices, learning curves, grid plots.
- `train`, `evaluate`, `predict`, `experiment`: the run folder, held-out evaluation, the
  shipped classifier, and comparison grids.

The network itself (timm backbones, frozen prefix / trainable tail) is `dermaseg.models.classifier`,
on the one backbone table both tasks share. Heavy modules (torch, timm) are imported by the
submodules that need them. The public names: `load_classifier`, `Classifier` (`predict`),
`train_classifier` (`train`), `evaluate_classifier` (`evaluate`).
"""

_LAZY = {
    "Classifier": "dermaseg.classify.predict",
    "load_classifier": "dermaseg.classify.predict",
    "classify_files": "dermaseg.classify.batch",
    "load_config": "dermaseg.classify.config",
    "train_classifier": "dermaseg.classify.train",
    "evaluate_classifier": "dermaseg.classify.evaluate",
}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dermaseg.classify' has no attribute '{name}'")
