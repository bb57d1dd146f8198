"""Preprocessing (hair removal, colour constancy, contrast), resizing and augmentation.

Light to import: torch is only loaded by `dermaseg.transforms.dataset` (SegmentationDataset)
and albumentations by `dermaseg.transforms.augment`.
"""

from dermaseg.transforms.pipeline import (
    DEFAULT_AUGMENT,
    PipelineConfig,
    ResizeMeta,
    preprocess,
    restore_size,
    to_model_input,
)
from dermaseg.transforms.preprocess import clahe_lab, remove_hair, shades_of_gray, sigmoid_contrast

__all__ = [
    "DEFAULT_AUGMENT",
    "PipelineConfig",
    "ResizeMeta",
    "clahe_lab",
    "preprocess",
    "remove_hair",
    "restore_size",
    "shades_of_gray",
    "sigmoid_contrast",
    "to_model_input",
]
