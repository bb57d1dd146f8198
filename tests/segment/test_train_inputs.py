"""`dermaseg train` on unusable inputs: one line saying why, and a corrected rerun is not refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")  # the training install


def _folder(root, n: int = 12, mask: bytes | None = b"not a png"):
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(root / "images" / f"im{i}.png")
        (root / "masks" / f"im{i}.png").write_bytes(mask)
    return root


def _train(*overrides: str, out) -> tuple[int, str]:
    from dermaseg.cli import main

    return main(["train", "--out", str(out), "train.epochs=1", "train.num_workers=0", "model.encoder_weights=null",
                 *overrides])


def test_no_usable_pair_is_one_line_naming_the_reason(tmp_path, capsys):
    root = _folder(tmp_path / "data")
    assert _train(f"data.root={root}", out=tmp_path / "run") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "no usable image/mask pair among the" in err[0] and "unreadable" in err[0] and "im" in err[0]


def test_a_run_that_failed_before_training_does_not_block_the_corrected_command(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(f"data.root={tmp_path / 'no-such-folder'}", out=run) == 2
    assert (run / "config.yaml").exists()
    capsys.readouterr()
    assert _train(f"data.root={_folder(tmp_path / 'data')}", out=run) == 2   # gets as far as the data
    err = capsys.readouterr().err
    assert "no usable image/mask pair" in err and "different config" not in err
