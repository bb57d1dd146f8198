"""Lesion classification: diagnosis from a dermoscopic image.

- `labels`: which classes a dataset's records carry (HAM10000's seven, ISIC 2017's three, PH2's
  three, or melanoma vs. rest) and each record's class index.
- `sampling`: class-imbalance strategies for the training split (undersample, oversample,
  class-weighted loss, weighted sampler).
- `splits`: lesion-grouped (or, on request, naive image-level) train/val/test splits.
- `metrics`, `plots`: accuracy, balanced accuracy, macro F1, per-class precision/recall,
  one-vs-rest AUC; confusion matrices, learning curves, grid plots.
- `model`: timm backbones with ImageNet weights (offline for EfficientNet-Lite), a frozen
  prefix / trainable tail split for CPU-cheap transfer learning.
- `train`, `evaluate`, `predict`, `experiment`: the run folder, held-out evaluation, the
  shipped classifier, and comparison grids.

Heavy modules (torch, timm) are imported by the submodules that need them.
"""
