"""Pieces every task shares and that need no PyTorch: the shipped-model table and its
resolver (`zoo`), and the ONNX model file with its metadata (`modelfile`)."""
