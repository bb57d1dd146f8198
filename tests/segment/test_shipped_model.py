"""A guard against broken shipped weights or preprocessing: the default model's Dice on 50
fixed held-out ISIC 2017 images (never used in training or for choices) stays >= 0.87."""

from __future__ import annotations

from support import ISIC2017, REPO, require_shared_data

from dermaseg.data.splits import read_split
from dermaseg.segment.evaluate import evaluate

SPLIT = REPO / "configs" / "splits" / "isic2017_unet_lite0_split.csv"


def test_default_model_dice_on_50_held_out_images(tmp_path):
    require_shared_data()
    held_out = sorted(i for i, s in read_split(SPLIT).items() if s == "test")[:50]
    split = tmp_path / "guard.csv"
    split.write_text("image_id,split\n" + "".join(f"{i},test\n" for i in held_out))
    summary = evaluate(None, ISIC2017, tmp_path / "guard", split="test", split_file=split, write_masks=False)
    assert summary["n_images"] == 50 and not summary["skipped"]
    assert summary["dice"] >= 0.87, summary["dice"]
