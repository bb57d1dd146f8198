"""Pieces every task shares: the shipped-model table and its resolver (`zoo`), the ONNX model
file with its metadata (`onnxfile`), the PyTorch model file of both tasks (`torchfile`, torch
imported only when called), the recipe loader with its typed, checked keys (`config`), cache
keys and atomic cache writes (`cache`), result files (`files`), the training commit
(`provenance`), the error shown to a user as one line (`errors`) and what every sub-command
shares (`cliutil`: exit statuses, help layout, --json, JSON-safe values)."""
