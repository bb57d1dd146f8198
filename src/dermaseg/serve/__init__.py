"""The local web page and HTTP API: `dermaseg serve`.

    from dermaseg.serve.app import create_app
    from dermaseg.serve.engines import Engines
    app = create_app(Engines.load())          # a FastAPI app; `dermaseg serve` runs it with uvicorn

Importing this package does not import torch: models are loaded by `Engines.load()`, which
prefers an exported ONNX segmentation model and only falls back to PyTorch when none is there.
"""
