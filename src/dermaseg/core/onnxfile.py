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
import os
import threading
from pathlib import Path

FORMAT = "dermaseg-onnx-v1"
METADATA_KEY = "dermaseg"


BACKENDS = ("auto", "torch", "onnx", "openvino")   # what a Classifier or Segmenter may run a model file on


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def runtime_name(session) -> str:
    """What runs a session open_session returned: "onnxruntime", "openvino-bf16" or "openvino-fp32"."""
    precision = getattr(session, "precision", None)   # only OpenVINOSession has one
    return f"openvino-{precision}" if precision else "onnxruntime"


def read_metadata(session, path: Path | str) -> dict:
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise ValueError(f"{path}: ONNX file has no dermaseg metadata (export it with `dermaseg export`)")
    meta = json.loads(props[METADATA_KEY])
    meta.setdefault("task", "segmentation")
    return meta


def open_session(path: Path | str, threads: int | None = None, runtime: str = "onnxruntime",
                 precision: str = "auto"):
    """(CPU session, its dermaseg metadata); ValueError naming the file if unusable.

    runtime "onnxruntime" (FP32), or "openvino" (dermaseg.core.openvino_session; `precision`
    "auto", "fp32" or "bf16").

    Optimising the graph costs ~80 ms at every start (a third of one image's whole run), so the
    optimised graph is kept in the user's cache, keyed by the file, the ONNX Runtime version and
    this CPU (the optimisations are hardware-specific), and later starts load it (~25 ms) with
    the same results. Without a writable cache everything works as before.
    """
    if runtime == "openvino":
        from dermaseg.core.openvino_session import OpenVINOSession

        session = OpenVINOSession(path, threads, precision)
        return session, metadata_of_file(path)
    if runtime != "onnxruntime":
        raise ValueError(f"runtime must be onnxruntime or openvino, got {runtime!r}")
    if precision not in ("auto", "fp32"):   # a request ONNX Runtime would silently not honour
        raise ValueError(f"{Path(path).name}: precision {precision!r} needs the OpenVINO runtime; ONNX Runtime runs FP32")
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    # Worker threads sleep instead of spinning between runs: predict's decode and write threads
    # share the same cores, and spinning took their CPU time (measured: ~10 % faster batches).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # One CPU arena for every session of the process: each session's own arena held its batches'
    # activations apart (a second segmentation network took ~240 MB more peak; shared: ~30 MB).
    _share_cpu_arena(ort)
    options.add_session_config_entry("session.use_env_allocators", "1")
    cached = optimised_graph_path(path)
    try:
        if cached is not None and cached.is_file():
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            try:
                session = ort.InferenceSession(str(cached), options, providers=["CPUExecutionProvider"])
                return session, read_metadata(session, path)
            except Exception:  # noqa: BLE001 - a damaged cache entry: optimise afresh below
                cached.unlink(missing_ok=True)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        tmp = None
        if cached is not None:
            tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
            options.optimized_model_filepath = str(tmp)
            options.log_severity_level = 3   # ORT warns that the saved graph is hardware-specific: it is keyed so
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        if tmp is not None and tmp.is_file():
            os.replace(tmp, cached)
    except Exception as exc:  # noqa: BLE001 - any loader failure means "not a usable model file"
        raise ValueError(f"{path}: not a loadable ONNX model ({' '.join(str(exc).split())})") from None
    return session, read_metadata(session, path)


_SHARED_ARENA: list = []
_SHARED_ARENA_LOCK = threading.Lock()


def _share_cpu_arena(ort) -> None:
    """Register one arena allocator with ONNX Runtime's environment, once per process."""
    with _SHARED_ARENA_LOCK:
        if not _SHARED_ARENA:
            info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
            ort.create_and_register_allocator(info, None)
            _SHARED_ARENA.append(info)


def metadata_of_file(path: Path | str) -> dict:
    """The dermaseg metadata of an .onnx file read from its bytes (for runtimes that do not expose
    ONNX metadata): the model's field 14 (metadata_props) entries, protobuf wire format."""
    try:
        data = memoryview(Path(path).read_bytes())
        props = dict(_string_pairs(data))
    except (OSError, IndexError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable ONNX file ({exc})") from None
    if METADATA_KEY not in props:
        raise ValueError(f"{path}: ONNX file has no dermaseg metadata (export it with `dermaseg export`)")
    meta = json.loads(props[METADATA_KEY])
    meta.setdefault("task", "segmentation")
    return meta


def _fields(data: memoryview):
    """(field number, wire type, value) of one protobuf message; length-delimited values as views."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = None, pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = None, pos + 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
        yield number, wire, value


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _string_pairs(model: memoryview):
    for number, wire, value in _fields(model):
        if number == 14 and wire == 2:   # ModelProto.metadata_props: StringStringEntryProto {key = 1, value = 2}
            entry = {n: bytes(v).decode() for n, w, v in _fields(value) if w == 2}
            yield entry.get(1, ""), entry.get(2, "")


def optimised_graph_path(path: Path | str) -> Path | None:
    """Where the optimised graph of `path` is cached for this CPU and ONNX Runtime; None if the
    cache folder ($DERMASEG_CACHE, else ~/.cache/dermaseg) cannot be written."""
    import hashlib
    import platform

    import onnxruntime as ort

    from dermaseg.core.cache import user_cache_folder

    try:
        st = os.stat(path)
    except OSError:
        return None
    folder = user_cache_folder("onnx")
    if folder is None:
        return None
    key = json.dumps([str(Path(path).resolve()), st.st_size, st.st_mtime_ns, ort.__version__, platform.machine(),
                      _cpu_flags()])
    return folder / f"{Path(path).stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next((line for line in fh if line.startswith(("flags", "Features"))), "")
    except OSError:
        return ""


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
