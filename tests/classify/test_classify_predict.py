"""`dermaseg classify predict` with the shipped classifier; logit adjustment."""

from __future__ import annotations

import csv

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install

from support import HAM10000

# --- the shipped classifier works right after install ----------------------------------------------

def test_predict_cli_with_shipped_classifier(shared_data, tmp_path, capsys):
    from dermaseg.cli import main
    from dermaseg.core.zoo import DEFAULTS, SHIPPED

    entry = SHIPPED[DEFAULTS["classification"]]
    for member in [SHIPPED[m] for m in entry.members] or [entry]:
        for shipped in (member.onnx_path, member.torch_path):
            assert shipped.is_file() and shipped.stat().st_size <= 25 * 2**20
    folder = tmp_path / "in"
    folder.mkdir()
    for image_id in ("ISIC_0024306", "ISIC_0024310"):
        (folder / f"{image_id}.jpg").write_bytes((HAM10000 / "HAM10000_images" / f"{image_id}.jpg").read_bytes())
    (folder / "broken.jpg").write_bytes(b"not an image")
    rc = main(["classify", "predict", str(folder), "--out", str(tmp_path / "out")])
    assert rc == 3                                                    # ran, but reported a skipped file
    rows = list(csv.DictReader(open(tmp_path / "out" / "classification.csv")))
    assert [r["image_id"] for r in rows] == ["ISIC_0024306", "ISIC_0024310"]
    classes = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    for r in rows:
        probs = [float(r[f"prob_{c}"]) for c in classes]
        assert abs(sum(probs) - 1) < 1e-3 and r["predicted"] == classes[int(np.argmax(probs))]
    # the summary counts the most probable classes and spells their names out
    from dermaseg.classify.labels import describe_class

    err = capsys.readouterr().err
    assert "most probable class:" in err
    for name in {r["predicted"] for r in rows}:
        n = sum(r["predicted"] == name for r in rows)
        assert f"{n}  {name}" in err and describe_class(name) in err and describe_class(name) != name


def test_logit_adjustment_trades_towards_balanced_accuracy():
    from dermaseg.classify.calibrate import adjust, choose_tau

    rng = np.random.default_rng(1)
    prior = np.array([0.8, 0.15, 0.05])
    y = rng.choice(3, size=3000, p=prior)
    # a model that leans on the prior: scores = evidence + log prior
    logits = rng.normal(size=(3000, 3)) + 1.2 * np.eye(3)[y] + np.log(prior)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    tau, table = choose_tau(probs, y, prior, ["a", "b", "c"])
    by_tau = {r["tau"]: r for r in table}
    assert tau > 0 and by_tau[tau]["balanced_accuracy"] > by_tau[0.0]["balanced_accuracy"] + 0.05
    shifted = adjust(probs, -tau * np.log(prior))
    assert np.allclose(shifted.sum(1), 1) and adjust(probs, None) is probs
