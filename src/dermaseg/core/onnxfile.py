"""The ONNX model file: the network plus the metadata every consumer needs, read without torch.

Metadata is one JSON document under the ONNX metadata key "dermaseg":
  format       "dermaseg-onnx-v1"
  task         "segmentation" | "classification"
  name         the shipped name (or the source file's stem)
  version      model version
  classes      class names (segmentation: ["lesion"])
  pipeline     preprocessing (dermaseg.transforms.pipeline.PipelineConfig fields)
  threshold    probability threshold (segmentation)
  model        architecture (segmentation: arch/encoder/...; classification: backbone, tta_views,
               logit_shift, temperature, crop)
  provenance   training data, recipe, training commit, export commit, source file
  held_out     figures on data the model did not train on, with the split they come from
  info         everything the PyTorch file's `info` held, as it was
Segmentation files written before this format hold only model/pipeline/threshold/info; they
still load (task defaults to segmentation).
"""

from __future__ import annotations

import json
from pathlib import Path

FORMAT = "dermaseg-onnx-v1"
METADATA_KEY = "dermaseg"


def read_metadata(session, path: Path | str) -> dict:
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise ValueError(f"{path}: ONNX file has no dermaseg metadata (export it with `dermaseg export`)")
    meta = json.loads(props[METADATA_KEY])
    meta.setdefault("task", "segmentation")
    return meta


def open_session(path: Path | str, threads: int | None = None):
    """(ONNX Runtime CPU session, its dermaseg metadata); ValueError naming the file if unusable."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Worker threads sleep instead of spinning between runs: predict's decode and write threads
    # share the same cores, and spinning took their CPU time (measured: ~10 % faster batches).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - any loader failure means "not a usable model file"
        raise ValueError(f"{path}: not a loadable ONNX model ({' '.join(str(exc).split())})") from None
    return session, read_metadata(session, path)


def check_task(meta: dict, task: str, path: Path | str) -> None:
    if meta.get("task") != task:
        raise ValueError(f"{path}: a {meta.get('task')} model, not a {task} model")


def write_metadata(onnx_path: Path | str, payload: dict) -> None:
    """Store `payload` (JSON-serialisable) as the file's dermaseg metadata."""
    import onnx

    proto = onnx.load(str(onnx_path))
    for entry in list(proto.metadata_props):
        if entry.key == METADATA_KEY:
            proto.metadata_props.remove(entry)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(payload)
    onnx.save(proto, str(onnx_path))
