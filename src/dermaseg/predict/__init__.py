"""Inference: the shipped model, `dermaseg predict`, ONNX export and ONNX Runtime inference."""

from dermaseg.predict.segmenter import SegmentationResult, Segmenter

__all__ = ["SegmentationResult", "Segmenter"]
