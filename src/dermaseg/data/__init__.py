"""Data layer: readers for the official dermoscopy layouts, guarded decoding, inference loading,
input gathering and output folders, quality control, lesion-grouped splits, the shipped sample."""

from dermaseg.data.io import ImageReadError, read_image, read_mask
from dermaseg.data.quality import DataQualityError, DataQualityWarning
from dermaseg.data.readers import LesionDataset, Record, Sample, open_dataset
from dermaseg.data.samples import sample_image
from dermaseg.data.splits import make_split, read_split, write_split

__all__ = [
    "DataQualityError",
    "DataQualityWarning",
    "ImageReadError",
    "LesionDataset",
    "Record",
    "Sample",
    "open_dataset",
    "read_image",
    "make_split",
    "read_mask",
    "read_split",
    "sample_image",
    "write_split",
]
