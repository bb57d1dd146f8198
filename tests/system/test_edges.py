"""Nothing lost at the edges: each situation below once lost, overwrote or corrupted work, or
crashed; each is made here by the test itself (names, links, a disk that fills up, bad values)."""

from __future__ import annotations

import csv
import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import PEAK_KB, lesion_image


def _image(path: Path, seed: int = 0, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(lesion_image(120, 160, seed=seed)[0]).save(path, format=fmt)
    return path


def _predict(*argv) -> int:
    from dermaseg.cli import main

    return main(["predict", *map(str, argv), "--threads", "1"])


def _masks_match_rows(out: Path) -> list[dict]:
    """Every mask on disk has its measurements row with the mask's own size, and vice versa."""
    rows = list(csv.DictReader(open(out / "measurements.csv", encoding="utf-8")))
    on_disk = sorted(p.name[:-len("_segmentation.png")] for p in out.glob("*_segmentation.png"))
    assert sorted(r["image_id"] for r in rows) == on_disk
    for r in rows:
        w, h = Image.open(out / f"{r['image_id']}_segmentation.png").size
        assert (int(r["width"]), int(r["height"])) == (w, h)
    return rows


# --- outputs never overwrite each other --------------------------------------------------------------

def test_same_stem_and_same_name_in_two_folders_get_distinct_outputs(tmp_path):
    _image(tmp_path / "in" / "lesion7.jpg", 0)
    _image(tmp_path / "in" / "lesion7.png", 1)
    _image(tmp_path / "clinicA" / "IMG_0001.jpg", 2)
    big = tmp_path / "clinicB" / "IMG_0001.jpg"
    big.parent.mkdir()
    Image.fromarray(lesion_image(240, 320, seed=3)[0]).save(big)
    assert _predict(tmp_path / "in", tmp_path / "clinicA", tmp_path / "clinicB", "--out", tmp_path / "out") == 0
    rows = _masks_match_rows(tmp_path / "out")
    assert {r["image_id"] for r in rows} == {"in__lesion7_jpg", "in__lesion7_png", "clinicA__IMG_0001_jpg",
                                             "clinicB__IMG_0001_jpg"}


def test_output_ids_stay_unique_whatever_the_names():
    from dermaseg.data.inputs import output_ids

    files = [Path("a/x.jpg"), Path("a/X.png"), Path("b/x.jpg"), Path("a/x_jpg.png"), Path("y.jpg")]
    ids = output_ids(files)
    assert len({i.casefold() for i in ids.values()}) == len(files) and ids[Path("y.jpg")] == "y"


def test_an_out_folder_with_earlier_outputs_is_refused_unless_overwrite(tmp_path, capsys):
    first, second = _image(tmp_path / "in" / "IMG_0001.jpg"), _image(tmp_path / "in2" / "IMG_0002.jpg", 1)
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "IMG_0001_segmentation.png"
    mine.write_bytes(b"the user's own file")
    assert _predict(first, "--out", out) == 2
    assert "IMG_0001_segmentation.png" in capsys.readouterr().err and mine.read_bytes() == b"the user's own file"
    assert _predict(first, "--out", out, "--overwrite") == 0
    assert _predict(second, "--out", out) == 0        # the same settings: the run goes on, and lists both
    assert sorted(r["image_id"] for r in _masks_match_rows(out)) == ["IMG_0001", "IMG_0002"]
    assert _predict(second, "--out", out, "--overwrite") == 0
    assert [r["image_id"] for r in _masks_match_rows(out)] == ["IMG_0002"]   # the first run's files are gone
    assert not list(out.glob("IMG_0001*"))


def test_classify_predict_refuses_an_earlier_classification_unless_overwrite(tmp_path, capsys):
    from dermaseg.cli import main

    image = _image(tmp_path / "in" / "a.jpg")
    out = tmp_path / "out"
    argv = ["classify", "predict", str(image), "--out", str(out), "--no-lesion-check", "--tta", "1"]
    (out / "classification.csv").parent.mkdir(parents=True)
    (out / "classification.csv").write_text("the user's own table\n")
    assert main(argv) == 2 and "classification.csv" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
    assert main(argv) == 0 and "done before" in capsys.readouterr().err        # the same command goes on
    assert main([*argv[:-1], "2"]) == 2 and "other settings (tta_views)" in capsys.readouterr().err


# --- every entry is done, skipped or ignored, by name ------------------------------------------------

def test_hidden_files_links_and_loops_are_each_accounted_for(tmp_path, capsys):
    folder = tmp_path / "in"
    _image(folder / "IMG_0001.jpg")
    _image(folder / ".hidden.jpg", 1)
    (folder / "again.jpg").symlink_to("IMG_0001.jpg")
    (folder / "loop.jpg").symlink_to("loop.jpg")
    assert _predict(folder, "--out", tmp_path / "out") == 3
    err = capsys.readouterr().err
    assert "loop.jpg: symbolic link loop" in err and "does not exist" not in err
    summary = json.loads((tmp_path / "out" / "measurements.json").read_text())["summary"]
    reasons = {Path(i["path"]).name: i["reason"] for i in summary["ignored"]}
    assert "hidden" in reasons[".hidden.jpg"] and "IMG_0001.jpg" in reasons["again.jpg"]
    assert [Path(f["path"]).name for f in summary["failures"]] == ["loop.jpg"]
    assert [r["image_id"] for r in _masks_match_rows(tmp_path / "out")] == ["IMG_0001"]


# --- names: not UTF-8, or a spreadsheet formula -----------------------------------------------------

def test_a_file_name_that_is_not_utf8_is_processed_by_both_tasks(tmp_path):
    from dermaseg.cli import main

    folder = tmp_path / "in"
    latin1 = Path(os.fsdecode(bytes(folder) + b"/l\xe9sion.jpg"))
    _image(latin1)
    assert _predict(folder, "--out", tmp_path / "seg") == 0
    assert os.path.exists(bytes(tmp_path / "seg") + b"/l\xe9sion_segmentation.png")
    assert json.loads((tmp_path / "seg" / "measurements.json").read_text())["images"][0]["lesion_found"]
    assert main(["classify", "predict", str(folder), "--out", str(tmp_path / "cls"), "--no-lesion-check",
                 "--tta", "1"]) == 0
    assert "l\\udce9sion" in (tmp_path / "cls" / "classification.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["=HYPERLINK(1).jpg", "+1.jpg", "-2.jpg", "@SUM(1).jpg"])
def test_names_a_spreadsheet_would_run_are_written_as_text(tmp_path, name):
    _image(tmp_path / "in" / name)
    assert _predict(tmp_path / "in", "--out", tmp_path / "out") == 0
    row = next(csv.reader(open(tmp_path / "out" / "measurements.csv").readlines()[1:]))
    assert row[0] == "'" + Path(name).stem
    assert json.loads((tmp_path / "out" / "measurements.json").read_text())["images"][0]["image_id"] == Path(name).stem


# --- a disk that fills up ---------------------------------------------------------------------------

class _Full:
    """os.fdopen for a disk that fills up: once `allowed` images (binary files) are written,
    every new file refuses its writes."""

    def __init__(self, allowed: int):
        self.allowed, self.real = allowed, os.fdopen

    def __call__(self, fd, mode="r", *args, **kwargs):
        fh = self.real(fd, mode, *args, **kwargs)
        if self.allowed > 0 and "b" in mode:
            self.allowed -= 1
            return fh
        return fh if self.allowed > 0 else _Refusing(fh)


class _Refusing:
    def __init__(self, fh):
        self.fh = fh

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()

    def __getattr__(self, name):
        return getattr(self.fh, name)


def test_a_full_disk_stops_in_one_line_naming_the_file_and_keeps_finished_work(tmp_path, monkeypatch, capsys):
    import dermaseg.core.files as files

    for i in range(3):
        _image(tmp_path / "in" / f"IMG_000{i}.jpg", i)
    monkeypatch.setattr(files.os, "fdopen", _Full(allowed=2))   # the first image's mask and overlay fit
    assert _predict(tmp_path / "in", "--out", tmp_path / "out", "--batch-size", "1") == 4
    monkeypatch.undo()
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("dermaseg: error: ") and "IMG_0001_segmentation.png: could not write it (No space" in last
    assert "Traceback" not in err
    left = sorted(p.name for p in (tmp_path / "out").iterdir())          # whole files only, no temporary ones
    assert left == ["IMG_0000_overlay.jpg", "IMG_0000_segmentation.png", "measurements.csv", "measurements.jsonl"]
    assert np.asarray(Image.open(tmp_path / "out" / "IMG_0000_segmentation.png")).shape == (120, 160)
    assert [r["image_id"] for r in csv.DictReader(open(tmp_path / "out" / "measurements.csv"))] == ["IMG_0000"]


# --- bad values are usage errors, before any image ----------------------------------------------------

@pytest.mark.parametrize("flag,value", [("--mm-per-pixel", "-1"), ("--mm-per-pixel", "nan"), ("--mm-per-pixel", "inf"),
                                        ("--mm-per-pixel", "1e308"), ("--threshold", "nan"), ("--threshold", "2"),
                                        ("--threshold", "-1"), ("--threshold", "0")])
def test_out_of_range_flags_stop_at_once_naming_the_flag(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as stop:
        _predict(_image(tmp_path / "a.jpg"), "--out", tmp_path / "out", f"{flag}={value}")
    assert stop.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("override,key", [("train.threshold=.nan", "train.threshold"), ("train.lr=-0.01", "train.lr"),
                                          ("train.lr=.nan", "train.lr"), ("data.val_fraction=.nan", "data.val_fraction"),
                                          ("train.threshold=1", "train.threshold")])
def test_recipe_values_that_cannot_train_fail_on_load_naming_the_key(override, key):
    from dermaseg.segment.config import load_config

    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        load_config(None, [override])


def test_the_segmenter_refuses_a_threshold_outside_0_1():
    from dermaseg.segment.segmenter import Segmenter

    for bad in (0.0, 1.0, float("nan"), 2.0):
        with pytest.raises(ValueError, match="threshold"):
            Segmenter(threshold=bad)



# --- damaged and heavy files ----------------------------------------------------------------------

def _flipped_jpeg(tmp_path: Path) -> Path:
    """A real JPEG with bytes flipped in its entropy-coded data: Pillow decodes it silently."""
    from dermaseg.data import sample_image

    data = bytearray(sample_image().read_bytes())
    rng = np.random.default_rng(0)
    for _ in range(3):
        data[rng.integers(600, len(data))] ^= 0xFF
    path = tmp_path / "flipped.jpg"
    path.write_bytes(bytes(data))
    return path


def test_a_jpeg_with_corrupt_data_is_processed_with_a_damaged_warning_in_its_row(tmp_path):
    from dermaseg.cli import main

    path = _flipped_jpeg(tmp_path)
    Image.open(path).load()                                            # Pillow alone says nothing
    # garbled, it may not look like a skin-lesion photograph any more: process it anyway
    assert _predict(path, "--out", tmp_path / "seg", "--accept-any-image") == 0
    row = _masks_match_rows(tmp_path / "seg")[0]
    assert row["warnings"].startswith(f"{path}: damaged JPEG data (Corrupt JPEG data")
    assert main(["classify", "predict", str(path), "--out", str(tmp_path / "cls"), "--tta", "1",
                 "--no-lesion-check", "--accept-any-image"]) == 0
    assert "damaged JPEG data" in next(csv.DictReader(open(tmp_path / "cls" / "classification.csv")))["warning"]
    clean = tmp_path / "clean"
    _image(clean / "a.jpg")
    assert _predict(clean, "--out", tmp_path / "seg2") == 0
    assert _masks_match_rows(tmp_path / "seg2")[0]["warnings"] == ""


def test_a_16_bit_png_of_50_mpx_decodes_in_bounded_memory(tmp_path):
    """A 110 KB file that took the server from 0.7 to 2.1 GB (8 bytes a pixel of float)."""
    import subprocess
    import sys

    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((5000, 10000), 30000, np.uint16)).save(path)
    code = (PEAK_KB + "from dermaseg.serve.decode import decode_upload\n"
            f"item = decode_upload(open({str(path)!r}, 'rb').read(), max_pixels=50_000_000)\n"
            "assert item.image.shape == (5000, 10000, 3) and int(item.image[0, 0, 0]) == 117\n"
            "print(peak_kb())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) < 800_000   # KB: was 1.4 GB


def test_evaluate_refuses_an_earlier_report_unless_overwrite(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from support import save_pair

    from dermaseg.cli import main

    for i in range(3):
        save_pair(tmp_path / "data" / "images" / f"a{i}.png", tmp_path / "data" / "masks" / f"a{i}.png", seed=i)
    argv = ["evaluate", "--model", "otsu", "--data", str(tmp_path / "data"), "--split", "all", "--out",
            str(tmp_path / "ev")]
    assert main(argv) == 0
    report = (tmp_path / "ev" / "summary.json").read_text()
    assert main(argv) == 2 and "summary.json" in capsys.readouterr().err
    assert (tmp_path / "ev" / "summary.json").read_text() == report
    assert main([*argv, "--overwrite"]) == 0


def test_every_command_that_writes_a_named_file_refuses_to_replace_it(tmp_path, capsys):
    from dermaseg.cli import main
    from support import save_pair

    for i in range(6):
        save_pair(tmp_path / "data" / "images" / f"a{i}.png", tmp_path / "data" / "masks" / f"a{i}.png", seed=i)
    split = tmp_path / "split.csv"
    split.write_text("the user's own notes\n")
    argv = ["data", "split", str(tmp_path / "data"), "--ratios", "50:50", "--out", str(split)]
    assert main(argv) == 2 and "split.csv" in capsys.readouterr().err
    assert split.read_text() == "the user's own notes\n"
    assert main([*argv, "--overwrite"]) == 0 and split.read_text().startswith("image_id,split")
