"""The classifier's ONNX and PyTorch backends agree on real images."""

from __future__ import annotations

import numpy as np
import pytest
from support import HAM10000, require_shared_data

from dermaseg.data.io import read_image

# Held-out ISIC 2017 images of the shipped model's split (never trained on).
HELD_OUT = ["ISIC_0000013", "ISIC_0000014", "ISIC_0000015", "ISIC_0000016", "ISIC_0000022", "ISIC_0000023"]


def test_onnx_and_pytorch_classifiers_agree_on_real_images():
    require_shared_data()
    pytest.importorskip("torch")
    from dermaseg.classify.predict import load_classifier

    images = [read_image(HAM10000 / "HAM10000_images" / f"ISIC_00243{i:02d}.jpg") for i in (6, 7, 8, 9)]
    onnx, torch_ = load_classifier(backend="onnx"), load_classifier(backend="torch")
    assert onnx.class_names == torch_.class_names and onnx.tta_views == torch_.tta_views
    p, q = onnx.predict_proba(images), torch_.predict_proba(images)
    assert np.abs(p - q).max() < 2e-3
    assert (p.argmax(1) == q.argmax(1)).all()
    # the shipped runtime (OpenVINO, bfloat16 where the CPU has it) stays close to both
    shipped = load_classifier().predict_proba(images)
    assert np.abs(shipped - q).max() < 0.02 and (shipped.argmax(1) == q.argmax(1)).all()
