"""dermaseg: dermoscopic skin-lesion segmentation, measurement and classification."""

__version__ = "0.1.0"
