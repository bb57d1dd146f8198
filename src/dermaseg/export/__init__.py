"""`dermaseg export`: shipped and trained model files of either task to ONNX with their metadata.

It reads both tasks' PyTorch model files, so it sits above the segmentation and classification
packages and nothing below imports it.
"""
