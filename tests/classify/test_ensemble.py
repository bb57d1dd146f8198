"""Ensembles: the mean of their members."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
from PIL import Image
from support import HAM10000


def test_ensemble_scores_the_mean_of_members_on_shared_images(tmp_path):
    from dermaseg.classify.ensemble import score_ensemble

    def write(name, rows, classes=("mel", "nv")):
        path = tmp_path / name
        lines = ["image_id,true,predicted," + ",".join(f"prob_{c}" for c in classes)]
        lines += [f"{i},{t},x," + ",".join(str(v) for v in p) for i, t, p in rows]
        path.write_text("\n".join(lines) + "\n")
        return path

    a = write("a.csv", [("i1", "mel", (0.6, 0.4)), ("i2", "nv", (0.7, 0.3)), ("i3", "nv", (0.2, 0.8))])
    b = write("b.csv", [("i2", "nv", (0.1, 0.9)), ("i1", "mel", (0.2, 0.8))])        # i3 missing, other order
    report = score_ensemble([a, b], tmp_path / "ens")
    # i1: mean (0.4, 0.6) -> nv (wrong); i2: (0.4, 0.6) -> nv (right)
    assert report["n"] == 2 and report["accuracy"] == 0.5 and report["n_dropped"] == 1
    preds = (tmp_path / "ens" / "predictions.csv").read_text().splitlines()
    assert preds[1].startswith("i1,mel,nv,0.4,0.6")
    with pytest.raises(ValueError, match="c.csv: classes"):
        score_ensemble([a, write("c.csv", [("i1", "mel", (0.5, 0.5))], ("mel", "bkl"))], tmp_path / "x")
    with pytest.raises(ValueError, match="d.csv: true classes differ"):
        score_ensemble([a, write("d.csv", [("i1", "nv", (0.5, 0.5))])], tmp_path / "y")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty.csv: not a readable CSV"):
        score_ensemble([a, tmp_path / "empty.csv"], tmp_path / "z")


def test_ensemble_of_model_files_predicts_the_mean_of_its_members(shared_data, tmp_path):
    from dermaseg.classify import labels as L_
    from dermaseg.classify.ensemble import score_ensemble
    from dermaseg.classify.evaluate import evaluate_classifier, held_out_ids
    from dermaseg.classify.predict import load_classifier
    from dermaseg.core.zoo import SHIPPED
    from dermaseg.data import open_dataset

    shipped = torch.load(SHIPPED["ham10000-lite0"].torch_path, map_location="cpu", weights_only=False)
    a = tmp_path / "a.pt"
    torch.save(shipped, a)
    shipped["logit_shift"] = [0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0]   # another model: leans towards melanoma
    b = tmp_path / "b.pt"
    torch.save(shipped, b)
    records = L_.labelled(open_dataset(HAM10000).records, "auto")
    ids = held_out_ids(records, shipped["info"], "test")[0][:10]     # held out from the shipped model
    split = tmp_path / "split.csv"
    split.write_text("image_id,split\n" + "".join(f"{i},test\n" for i in ids))
    runs = {}
    for name, model in (("a", [a]), ("b", [b]), ("ab", [a, b])):
        runs[name] = evaluate_classifier(model, HAM10000, tmp_path / name, split_file=split, tta_views=1)
    assert runs["ab"]["model"] == f"{a} + {b}" and runs["ab"]["n"] == len(ids) and runs["ab"]["warning"] is None
    assert runs["ab"]["model_files"] == [str(a), str(b)]
    from_files = score_ensemble([tmp_path / "a" / "predictions.csv", tmp_path / "b" / "predictions.csv"],
                                tmp_path / "from_files")
    probs = [np.loadtxt(tmp_path / d / "predictions.csv", delimiter=",", skiprows=1, usecols=range(3, 10))
             for d in ("ab", "from_files")]
    assert np.allclose(probs[0], probs[1], atol=1e-5) and from_files["accuracy"] == runs["ab"]["accuracy"]
    assert not np.allclose(probs[0], np.loadtxt(tmp_path / "a" / "predictions.csv", delimiter=",", skiprows=1,
                                                usecols=range(3, 10)), atol=1e-3)
    # the same ensemble saved as a file: members relative to it, a name and figures of its own
    (tmp_path / "pair.json").write_text(json.dumps({"name": "pair", "members": ["a.pt", "b.pt"],
                                                    "info": {"version": "9.9"}, "held_out": {"n": 6}}))
    pair = load_classifier(tmp_path / "pair.json", tta_views=1)
    images = [np.asarray(Image.open(HAM10000 / "HAM10000_images" / f"{i}.jpg")) for i in ids[:3]]
    assert pair.name == "pair" and pair.meta["held_out"] == {"n": 6} and pair.meta["info"]["version"] == "9.9"
    assert "test" not in pair.meta["info"] and pair.meta["info"]["split"] == shipped["info"]["split"]
    assert np.allclose(pair.predict_proba(images), probs[0][:3], atol=1e-5)
    # the file's own number of views goes to every member, unless the caller asks for another
    (tmp_path / "views.json").write_text(json.dumps({"members": ["a.pt", "b.pt"], "tta_views": 2}))
    assert load_classifier(tmp_path / "views.json").tta_views == 2
    assert load_classifier(tmp_path / "views.json", tta_views=1).tta_views == 1
    assert load_classifier(tmp_path / "pair.json").tta_views == shipped["tta_views"]   # no setting: the members' own
    (tmp_path / "bad.json").write_text(json.dumps({"members": ["a.pt"]}))
    with pytest.raises(ValueError, match="bad.json: an ensemble file lists two or more"):
        load_classifier(tmp_path / "bad.json")
    shipped["class_names"] = shipped["class_names"][::-1]
    c = tmp_path / "c.pt"
    torch.save(shipped, c)
    with pytest.raises(ValueError, match="c.pt: classes"):
        evaluate_classifier([a, c], HAM10000, tmp_path / "ac", split_file=split, tta_views=1)
    # a member trained on another split: the first member's test images include its training images
    shipped["class_names"] = shipped["class_names"][::-1]
    shipped["info"]["split"]["split_seed"] = 7
    d = tmp_path / "d.pt"
    torch.save(shipped, d)
    report = evaluate_classifier([a, d], HAM10000, tmp_path / "ad", split_file=split, tta_views=1)
    assert report["warning"].startswith(f"{d}: ") and "not held-out figures" in report["warning"]
