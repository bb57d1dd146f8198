"""The run folder both tasks write: the resolved config (config.yaml), the environment
(environment.json: seed, versions, command, the checkpoint a session resumed from), and the
device and precision a run trains at. No Lightning module here: see `base`."""

from __future__ import annotations

import copy
import json
import platform
import sys
import time
from pathlib import Path

import yaml

from dermaseg.core.config import complete


def write_config(run_dir: Path, config: dict, schema: dict, hint: str, may_change: tuple[str, ...] = ()) -> None:
    """Writes run_dir/config.yaml, the resolved recipe. A folder holding another run's config is
    refused (`hint`: what to do instead), unless the two differ only in the train keys in
    `may_change` (the budget of a run that goes on), or that run never trained (it failed before
    its first epoch, e.g. on a wrong data root: the corrected command starts afresh). Keys added to `schema` since a folder was
    written count at their defaults."""
    path = run_dir / "config.yaml"
    if path.exists() and has_trained(run_dir):   # a run that failed before its first epoch is no run
        before = complete(yaml.safe_load(path.read_text()), schema)
        budget_only = before and may_change and _without(before, may_change) == _without(config, may_change)
        if before != config and not budget_only:
            raise ValueError(f"{run_dir} holds a run with a different config ({path}); {hint}")
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def has_trained(run_dir: Path) -> bool:
    """Whether `run_dir` holds the work of a run that trained: a checkpoint, a per-epoch table, a model."""
    return (any((run_dir / "checkpoints").glob("*.ckpt")) or any(run_dir.glob("*.ckpt"))
            or any((run_dir / name).exists() for name in ("metrics.csv", "history.csv", "model.pt")))


def _without(config: dict, train_keys: tuple[str, ...]) -> dict:
    c = copy.deepcopy(config)
    for key in train_keys:
        c["train"].pop(key, None)
    return c


def write_environment(run_dir: Path, config: dict, resumed_from: Path | None = None) -> None:
    env = environment(config)
    if resumed_from:
        env["resumed_from"] = str(resumed_from)
    (run_dir / "environment.json").write_text(json.dumps(env, indent=2))


def environment(config: dict) -> dict:
    import importlib.metadata as md

    versions = {}
    for pkg in ("dermaseg", "torch", "torchvision", "lightning", "segmentation-models-pytorch", "timm",
                "albumentations", "opencv-python-headless", "numpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {"seed": config["seed"], "python": sys.version.split()[0], "platform": platform.platform(),
            "machine": platform.machine(), "command": sys.argv, "versions": versions,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def uses_gpu(accelerator: str) -> bool:
    import torch

    return torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")


def cpu_has_bf16() -> bool:
    """AVX-512 BF16 or AMX: bf16 autocast is then a real speed-up on this CPU, not an emulation."""
    import torch

    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def default_precision(accelerator: str) -> str:
    """bf16 mixed precision where the hardware runs it natively; fp16 on older GPUs; fp32 otherwise."""
    import torch

    if uses_gpu(accelerator):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_bf16() else "32-true"
