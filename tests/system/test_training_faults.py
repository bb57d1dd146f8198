"""Training survives faults: a SIGKILL mid-run resumes from the last checkpoint when the same
command is run again; multi-process (DDP, gloo on CPU) training writes one model.

Tiny runs (a handful of 64 px images, no pretrained weights) in subprocesses, as a user runs them.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from support import ISIC2017, require_shared_data

pytestmark = pytest.mark.slow

TINY = ["model.encoder_weights=null", "pipeline.size=64", "train.batch_size=2", "train.num_workers=0",
        "train.early_stopping_patience=0", "train.accelerator=cpu", "train.precision=32-true",
        "train.max_time_minutes=null"]
ARTIFACTS = {"config.yaml", "environment.json", "split.csv", "metrics.csv", "learning_curves.png", "model.pt",
             "summary.json", "checkpoints/best.ckpt", "checkpoints/last.ckpt"}


def _command(out: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "dermaseg.cli", "train", "--out", str(out), f"data.root={ISIC2017}", *TINY,
            *overrides]


def _epochs_in_metrics(run: Path) -> list[int]:
    path = run / "metrics.csv"
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return [int(row["epoch"]) for row in csv.DictReader(fh)]


def _artifacts(run: Path) -> set[str]:
    return {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()}


# One thread per process: tiny models gain nothing from more, and a busy machine (CI, a training
# run beside the tests) makes oversubscribed thread pools crawl.
ENV = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")


def _run(command: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=ENV)


def test_sigkill_mid_training_resumes_and_loses_at_most_one_epoch(tmp_path):
    require_shared_data()
    run = tmp_path / "run"
    command = _command(run, "train.epochs=3", "train.limit_train_images=8")
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    last = run / "checkpoints" / "last.ckpt"
    try:
        deadline = time.monotonic() + 600
        while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # into the next epoch
        assert proc.poll() is None, "training finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    done_at_kill = len(_epochs_in_metrics(run))
    split_before = (run / "split.csv").read_text()
    epochs_in_checkpoint = int(torch.load(last, map_location="cpu", weights_only=False)["epoch"]) + 1
    assert 1 <= epochs_in_checkpoint < 3
    assert done_at_kill - epochs_in_checkpoint <= 1  # at most the epoch in progress is lost

    result = _run(command)  # the same command again
    assert result.returncode == 0, result.stderr[-2000:]
    env = json.loads((run / "environment.json").read_text())
    assert env["resumed_from"].endswith(".ckpt")
    assert _epochs_in_metrics(run) == [0, 1, 2]  # every epoch once: kept ones kept, none repeated twice
    assert json.loads((run / "summary.json").read_text())["epochs_completed"] == 3
    # last.ckpt follows every epoch, not only the best one
    assert int(torch.load(last, map_location="cpu", weights_only=False)["epoch"]) == 2
    assert (run / "split.csv").read_text() == split_before
    assert ARTIFACTS <= _artifacts(run)
    from dermaseg.segment.modelfile import build_from_file

    model, meta = build_from_file(run / "model.pt")
    assert meta["pipeline"]["size"] == 64


def test_ddp_two_cpu_processes_write_one_model(tmp_path):
    require_shared_data()
    run = tmp_path / "ddp"
    result = _run(_command(run, "train.epochs=1", "train.limit_train_images=8", "train.devices=2",
                           "train.strategy=ddp"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MEMBER: 2/2" in result.stderr and "gloo" in result.stderr
    assert _epochs_in_metrics(run) == [0]  # one writer: rank 0
    assert sorted(p.name for p in run.glob("*.pt")) == ["model.pt"]
    assert ARTIFACTS <= _artifacts(run)
