"""Pieces every task shares and that need no PyTorch: the shipped-model table and its
resolver (`zoo`), the ONNX model file with its metadata (`modelfile`), the recipe loader with
its typed, checked keys (`config`), the error shown to a user as one line (`errors`) and what
every sub-command shares (`cliutil`: exit statuses, help layout)."""
