"""Models shipped inside the package, by name."""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
SHIPPED = {
    # name: (file, one-line description)
    "isic-unet-lite0": ("isic_unet_lite0.pt", "U-Net / EfficientNet-Lite0, ISIC 2017 + HAM10000, 192 px (default)"),
}
DEFAULT_MODEL = "isic-unet-lite0"


def resolve_model(model: str | Path | None) -> Path:
    """A shipped model name, or a path to a .pt/.ckpt/.onnx file -> the file."""
    if model is None:
        model = DEFAULT_MODEL
    if str(model) in SHIPPED:
        path = WEIGHTS_DIR / SHIPPED[str(model)][0]
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the shipped model {model!r} is missing from this installation")
        return path
    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"{model}: no such model file, and not a shipped model name "
                                f"(shipped: {', '.join(SHIPPED)})")
    return path
