"""An ONNX model file run by OpenVINO instead of ONNX Runtime.

OpenVINO reads the same .onnx files and, on CPUs that compute bfloat16 natively (AVX-512 BF16,
AMX), runs them in bfloat16 by default: about twice ONNX Runtime's FP32 speed for the shipped
classifiers (benchmarks in docs/classification.md). `OpenVINOSession` offers the part of ONNX
Runtime's session API dermaseg's inference code calls (`get_inputs()[i].name`, `run(None, feeds)`),
so either runtime serves the same code.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np

PRECISIONS = {"auto": None, "fp32": "f32", "bf16": "bf16"}


def openvino_available() -> bool:
    from importlib.util import find_spec

    return find_spec("openvino") is not None


class OpenVINOSession:
    """path: an .onnx file; threads: CPU threads (None: OpenVINO's choice); precision: "auto"
    (OpenVINO's default: bfloat16 where the CPU computes it natively, else FP32), "fp32" or "bf16"."""

    def __init__(self, path: Path | str, threads: int | None = None, precision: str = "auto"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        try:
            import openvino as ov
        except ImportError:
            raise ValueError("the OpenVINO runtime is not installed: pip install openvino "
                             "(or use ONNX Runtime: --runtime onnxruntime)") from None
        core = ov.Core()
        from dermaseg.core.cache import user_cache_folder

        cache = user_cache_folder("openvino")
        if cache is not None:   # compiled networks are kept: a later start loads in ~0.1 s instead of ~0.4 s
            core.set_property({"CACHE_DIR": str(cache)})
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(int(threads))
        hint = PRECISIONS[precision]
        if hint == "bf16" and not native_bf16(core):
            hint = "f32"   # emulated bfloat16 would only be slower: FP32, and `precision` says so
        if hint:
            config["INFERENCE_PRECISION_HINT"] = hint
        try:
            self.compiled = core.compile_model(str(path), "CPU", config)
        except Exception as exc:  # noqa: BLE001 - any compiler failure means "not a usable model file"
            raise ValueError(f"{path}: OpenVINO cannot run this ONNX model ({' '.join(str(exc).split())})") from None
        # what the CPU actually runs: "bf16" or "f32"
        ran = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.precision = {"f32": "fp32"}.get(ran, ran)
        self._local = threading.local()   # an infer request per thread: the server calls from several
        self._inputs = [SimpleNamespace(name=i.get_any_name()) for i in self.compiled.inputs]

    def get_inputs(self) -> list:
        return self._inputs

    def run(self, output_names, feeds: dict) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        result = request.infer(feeds)
        # copies: the request reuses its output buffers on the next call
        return [np.array(result[out]) for out in self.compiled.outputs]


def native_bf16(core=None) -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX), as OpenVINO sees it."""
    if core is None:
        import openvino as ov

        core = ov.Core()
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")

