"""Runs that stop part-way go on: `predict` and `classify predict` killed with SIGKILL, then run
again with the same command, end with exactly the outputs of a run that was never stopped."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import lesion_image


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(24):
        image, _ = lesion_image(1000, 1500, seed=i, radius=200 + 5 * i)
        Image.fromarray(image).save(folder / f"IMG_{i:04d}.jpg", quality=95)
    return folder


def _command(*args) -> list[str]:
    return [sys.executable, "-m", "dermaseg.cli", *map(str, args)]


def _kill_part_way(argv: list[str], journal: Path, after: int) -> None:
    """Start the command, SIGKILL it once `after` images are journalled."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) > after:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"


def _without_timings(path: Path) -> list[dict]:
    images = json.loads(path.read_text())["images"]
    return [{k: v for k, v in entry.items() if k != "timings_ms"} for entry in images]


def test_predict_killed_part_way_goes_on_to_the_same_outputs(photos, tmp_path):
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    subprocess.run(_command("predict", photos, "--out", whole, "--threads", "1"), check=True, capture_output=True)
    argv = _command("predict", photos, "--out", stopped, "--threads", "1")
    _kill_part_way(argv, stopped / "measurements.jsonl", after=4)
    kept = len(list(csv.DictReader(open(stopped / "measurements.csv"))))
    (stopped / ".IMG_0005_overlay.jpg.abc123.dermaseg-tmp").write_bytes(b"half a file")   # as a kill leaves it
    assert 3 <= kept < 24        # streamed rows survive the kill (the row in flight may not)
    again = subprocess.run(argv, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "done before" in again.stderr + again.stdout
    assert (stopped / "measurements.csv").read_text() == (whole / "measurements.csv").read_text()
    assert _without_timings(stopped / "measurements.json") == _without_timings(whole / "measurements.json")
    for mask in whole.glob("*_segmentation.png"):
        assert np.array_equal(np.asarray(Image.open(mask)), np.asarray(Image.open(stopped / mask.name)))
    assert sorted(p.name for p in stopped.iterdir()) == sorted(p.name for p in whole.iterdir())


def test_classify_predict_killed_part_way_goes_on_to_the_same_rows(photos, tmp_path):
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    base = ["classify", "predict", photos, "--tta", "1", "--threads", "1", "--no-lesion-check"]
    subprocess.run(_command(*base, "--out", whole), check=True, capture_output=True)
    argv = _command(*base, "--out", stopped)
    _kill_part_way(argv, stopped / "classification.jsonl", after=2)
    again = subprocess.run(argv, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "done before" in again.stderr
    assert (stopped / "classification.csv").read_text() == (whole / "classification.csv").read_text()
    rows = list(csv.DictReader(open(stopped / "classification.csv")))
    assert sorted(r["image_id"] for r in rows) == [f"IMG_{i:04d}" for i in range(24)]


def test_the_same_folder_with_other_settings_is_refused_unless_overwrite(photos, tmp_path, capsys):
    from dermaseg.cli import main

    one = sorted(photos.glob("*.jpg"))[:2]
    assert main(["predict", *map(str, one), "--out", str(tmp_path / "o")]) == 0
    assert main(["predict", *map(str, one), "--out", str(tmp_path / "o"), "--no-overlay"]) == 2
    assert "other settings (overlay)" in capsys.readouterr().err
    assert main(["predict", *map(str, one), "--out", str(tmp_path / "o"), "--no-overlay", "--overwrite"]) == 0
    assert not list((tmp_path / "o").glob("*_overlay.jpg"))
