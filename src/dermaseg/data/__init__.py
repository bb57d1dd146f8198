"""Data layer: readers for the official dermoscopy layouts, quality control and splits."""

from dermaseg.data.io import ImageReadError, read_image, read_mask
from dermaseg.data.quality import DataQualityError, DataQualityWarning
from dermaseg.data.readers import LesionDataset, Record, Sample, open_dataset

__all__ = [
    "DataQualityError",
    "DataQualityWarning",
    "ImageReadError",
    "LesionDataset",
    "Record",
    "Sample",
    "open_dataset",
    "read_image",
    "read_mask",
]
