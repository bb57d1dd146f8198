"""The shipped models: ONNX files with metadata, exported from the shipped weights; the resolver."""

from __future__ import annotations

import pytest

from dermaseg.core.zoo import DEFAULTS, SHIPPED, resolve

# --- one table, one resolver, ONNX files with their metadata -----------------------------------

def test_every_shipped_model_has_its_onnx_file_with_metadata():
    import onnxruntime as ort

    from dermaseg.core.onnxfile import read_metadata

    for name, entry in SHIPPED.items():
        assert entry.onnx_path.is_file() and entry.onnx_path.stat().st_size < 25 * 2**20
        if entry.is_ensemble:
            continue
        session = ort.InferenceSession(str(entry.onnx_path), providers=["CPUExecutionProvider"])
        meta = read_metadata(session, entry.onnx_path)
        assert meta["task"] == entry.task and meta["name"] == name
        for key in ("classes", "pipeline", "version", "provenance", "held_out"):
            assert meta.get(key), (name, key)
        assert {"training_data", "recipe", "commit", "export_commit"} <= set(meta["provenance"])
        assert meta["pipeline"]["size"] >= 16
        if entry.task == "segmentation":
            assert meta["classes"] == ["lesion"] and 0 < meta["threshold"] < 1
        else:
            assert len(meta["classes"]) >= 2 and meta["model"]["tta_views"] >= 1


def test_shipped_onnx_files_are_exported_from_the_shipped_weights():
    """A shipped .pt replaced without regenerating its ONNX file is caught here."""
    import hashlib

    import onnxruntime as ort

    from dermaseg.core.onnxfile import read_metadata

    for name, entry in SHIPPED.items():
        if entry.is_ensemble:
            continue
        meta = read_metadata(ort.InferenceSession(str(entry.onnx_path), providers=["CPUExecutionProvider"]),
                             entry.onnx_path)
        digest = hashlib.sha256(entry.torch_path.read_bytes()).hexdigest()
        assert meta["provenance"].get("source_sha256") == digest, (
            f"{entry.onnx_path.name} was not exported from the current {entry.torch_path.name}: "
            "run `dermaseg export --shipped`")


def test_shipped_ensembles_name_shipped_members_of_their_task_and_carry_figures():
    from dermaseg.classify.predict import read_ensemble_file

    ensembles = [e for e in SHIPPED.values() if e.is_ensemble]
    assert ensembles and DEFAULTS["classification"] in {e.name for e in ensembles}
    for entry in ensembles:
        about = read_ensemble_file(entry.onnx_path)
        assert about["name"] == entry.name and about["members"] == list(entry.members)
        assert all(SHIPPED[m].task == entry.task and not SHIPPED[m].is_ensemble for m in entry.members)
        assert about["info"]["version"] and about["held_out"]["split"] == "test"
        assert 0 < about["held_out"]["balanced_accuracy"] <= 1 and about["held_out"]["n"] > 0
        assert resolve(entry.name, entry.task, prefer="torch").path == resolve(entry.name, entry.task).path


def test_resolver_prefers_onnx_and_names_what_the_cli_accepts(tmp_path):
    seg = resolve(None, "segmentation")
    assert seg.name == DEFAULTS["segmentation"] and seg.path.suffix == ".onnx"
    assert resolve("isic-unet-lite0", "segmentation", prefer="torch").path.suffix == ".pt"
    with pytest.raises(ValueError, match="classification model"):
        resolve("ham10000-lite0", "segmentation")
    with pytest.raises(FileNotFoundError, match="not a shipped segmentation model name"):
        resolve("no-such-model", "segmentation")
    onnx = SHIPPED["isic-unet-lite0"].onnx_path
    assert resolve(str(onnx), "segmentation").name == str(onnx)  # a path prints as the path given
