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


def test_a_run_of_another_model_version_is_not_finished_by_this_one(photos, tmp_path, capsys):
    import json

    from dermaseg.cli import main

    one = sorted(photos.glob("*.jpg"))[:2]
    assert main(["predict", *map(str, one), "--out", str(tmp_path / "o")]) == 0
    journal = tmp_path / "o" / "measurements.jsonl"
    lines = journal.read_text().splitlines()
    first = json.loads(lines[0])
    assert first["settings"]["model_version"] not in ("", "unversioned")
    first["settings"]["model_version"] = "0.0.1"       # as an earlier release of the model left it
    journal.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    assert main(["predict", *map(str, one), "--out", str(tmp_path / "o")]) == 2
    assert "other settings (model_version)" in capsys.readouterr().err


def test_overwrite_after_a_kill_removes_what_the_killed_run_wrote(photos, tmp_path):
    """A run killed before its end wrote only its journal: --overwrite with other settings must
    still remove that run's masks and overlays."""
    from dermaseg.core.journal import read_rows

    out = tmp_path / "o"
    _kill_part_way(_command("predict", photos, "--out", out, "--threads", "1"), out / "measurements.jsonl", after=3)
    assert list(out.glob("*_overlay.jpg")) and not (out / "measurements.json").exists()
    journalled = {row["image_id"] for row in read_rows(out / "measurements.jsonl")}
    assert len(journalled) >= 3
    first = sorted(photos.glob("*.jpg"))[:1]
    done = subprocess.run(_command("predict", *first, "--out", out, "--no-overlay", "--overwrite"),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (out / f"{first[0].stem}_segmentation.png").is_file()
    left = {p.name.rsplit("_", 1)[0] for p in out.glob("*.*g")} - {first[0].stem}
    assert not left & journalled     # every image the killed run had finished is gone
    assert len(left) <= 4            # at most its batch in flight: written, not yet journalled when killed


def test_the_journal_keeps_rows_on_disk_not_in_memory(tmp_path):
    from dermaseg.core.journal import Journal

    files = []
    for i in range(3):
        f = tmp_path / f"img{i}.jpg"
        f.write_bytes(b"x" * (i + 1))
        files.append(f)
    journal = Journal(tmp_path / "run.jsonl", {"a": 1})
    assert journal.resume(overwrite=False) == 0
    for i, f in enumerate(files):
        journal.record(f, {"image_id": f.stem, "value": "v" * 1000 * (i + 1)})
    journal.record(files[0], {"image_id": files[0].stem, "value": "latest"})   # a rerun's row replaces it
    journal.close()
    assert all(isinstance(v, int) for v in journal._lines.values())          # offsets, not rows
    assert [r["image_id"] for r in journal.rows(["img2", "img0", "img1"])] == ["img2", "img0", "img1"]
    assert next(journal.rows(["img0"]))["value"] == "latest"
    again = Journal(tmp_path / "run.jsonl", {"a": 1})
    assert again.resume(overwrite=False) == 3 and again.is_done(files[1])
    assert [r["value"][:6] for r in again.rows(["img0", "img1", "img2"])] == ["latest", "vvvvvv", "vvvvvv"]
    again.close()
