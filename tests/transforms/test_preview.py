"""`dermaseg augment preview` draws its grids."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
import yaml
from PIL import Image
from support import ISIC2017, needs_isic2017

from dermaseg.transforms.pipeline import (
    DEFAULT_AUGMENT,
)

# --- the preview command -------------------------------------------------------------------


@needs_isic2017
def test_preview_cli_writes_pngs(tmp_path):
    from dermaseg.cli import main

    config = tmp_path / "recipe.yaml"
    config.write_text(yaml.safe_dump({"pipeline": {"size": 128, "hair_removal": True, "augment": DEFAULT_AUGMENT}}))
    out = tmp_path / "grid.png"
    code = main(["augment", "preview", "--data", str(ISIC2017), "--n", "3", "--out", str(out), "--config", str(config),
                 "--seed", "1"])
    assert code == 0
    for path in (out, tmp_path / "grid_preprocess.png"):
        with Image.open(path) as img:
            assert img.format == "PNG" and img.width > 300 and img.height > 200
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline: {sizee: 3}\n")
    assert main(["augment", "preview", "--data", str(ISIC2017), "--out", str(out), "--config", str(bad)]) == 2
