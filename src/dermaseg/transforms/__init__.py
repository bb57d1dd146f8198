"""Preprocessing (hair removal, colour constancy, contrast), resizing and augmentation.

Light to import: torch is only loaded by `dermaseg.segment.dataset` (SegmentationDataset)
and albumentations by `dermaseg.transforms.augment`. The `preprocess()` function lives in
`dermaseg.transforms.pipeline`; it is not re-exported here, where the name would hide the
`dermaseg.transforms.preprocess` module of individual steps.
"""

from dermaseg.transforms.pipeline import (
    DEFAULT_AUGMENT,
    PipelineConfig,
    ResizeMeta,
    restore_size,
    to_model_input,
)
from dermaseg.transforms.preprocess import clahe_lab, remove_hair, shades_of_gray, sigmoid_contrast

__all__ = [
    "DEFAULT_AUGMENT",
    "PipelineConfig",
    "ResizeMeta",
    "clahe_lab",
    "remove_hair",
    "restore_size",
    "shades_of_gray",
    "sigmoid_contrast",
    "to_model_input",
]
