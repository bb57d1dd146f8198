"""Odd inputs a new user meets: each is segmented, or skipped with a one-line reason, or
listed as not an image; output-folder problems fail before any work; one exit-code convention."""

from __future__ import annotations

import csv
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from odd_inputs import bomb_png, build_corpus, disc_network
from PIL import Image
from support import HAM10000, PEAK_KB, lesion_image, require_shared_data, save_pair


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("odd")
    return folder, build_corpus(folder)


def test_corpus_covers_twenty_kinds(corpus):
    _, expect = corpus
    assert len(expect) >= 20
    assert sum(v == "ok" for v in expect.values()) >= 10 and sum(v != "ok" for v in expect.values()) >= 10


def test_every_corpus_file_is_decoded_or_refused_in_one_line(corpus):
    from dermaseg.data.io import ImageReadError, ImageWarning, read_image, read_mask
    from dermaseg.data.loading import load_for_inference

    folder, expect = corpus
    for name, outcome in expect.items():
        if outcome == "ignored":
            continue
        for read in (read_image, read_mask, load_for_inference):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ImageWarning)
                try:
                    read(folder / name)
                    assert outcome == "ok", (name, read.__name__, "decoded but expected", outcome)
                except ImageReadError as exc:
                    assert outcome != "ok" and outcome in exc.reason, (name, read.__name__, exc.reason)
                    assert str(folder / name) in str(exc) and "\n" not in str(exc)


def test_predict_over_the_corpus_accounts_for_every_entry(corpus, tmp_path, capsys, monkeypatch):
    from dermaseg.data.inputs import gather_inputs
    from dermaseg.segment.batch import predict_files
    from dermaseg.segment.segmenter import Segmenter

    monkeypatch.setattr(Segmenter, "_network", disc_network)  # the shipped model runs in test_fuzz
    folder, expect = corpus
    inputs = gather_inputs([str(folder)])
    # odd pictures (a blank sliver, ...) are not skin photographs: segment them anyway, that is the test
    summary = predict_files(inputs.files, tmp_path / "out", overlay=False, quiet=True, skipped=inputs.skipped,
                            ignored=inputs.ignored, accept_any_image=True)
    saved = json.loads((tmp_path / "out" / "measurements.json").read_text())
    done = {Path(e["path"]).name: e for e in saved["images"]}
    failed = {Path(f["path"]).name: f["error"] for f in summary["failures"]}
    ignored = {Path(i["path"]).name for i in summary["ignored"]}
    for name, outcome in expect.items():
        if outcome == "ok":
            assert name in done, (name, failed.get(name))
        elif outcome == "ignored":
            assert name in ignored
        else:
            assert outcome in failed.get(name, ""), (name, failed.get(name))
    assert len(done) + len(failed) + len(ignored) == len(expect)
    assert done["rotated_exif.jpg"]["width"] == 96 and done["rotated_exif.jpg"]["height"] == 128
    assert Image.open(tmp_path / "out" / "sliver_segmentation.png").size == (2000, 3)
    assert any("Corrupt EXIF" in w for w in done["corrupt_exif.jpg"]["warnings"])
    assert "Traceback" not in capsys.readouterr().err


def test_bomb_header_is_refused_before_decoding(tmp_path):
    import time

    from dermaseg.data.io import ImageReadError, read_image, set_max_pixels

    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(15000, 15000))
    started = time.perf_counter()
    with pytest.raises(ImageReadError, match=r"15000x15000 .*over the 100 Mpx limit"):
        read_image(path)
    assert time.perf_counter() - started < 1.0  # 675 MB of pixels were never decoded
    set_max_pixels(10_000)
    try:
        small = tmp_path / "small.png"
        Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(small)
        with pytest.raises(ImageReadError, match="limit"):
            read_image(small)
    finally:
        set_max_pixels(100_000_000)


def test_big_jpeg_is_decoded_reduced_for_inference_and_refused_over_the_limit(tmp_path):
    from dermaseg.data.io import ImageReadError, set_max_pixels
    from dermaseg.data.loading import load_for_inference

    path = tmp_path / "big.jpg"
    Image.fromarray(np.full((800, 1200, 3), 150, np.uint8)).save(path)
    item = load_for_inference(path, min_side=64)    # libjpeg's 1/8 scale still leaves 150 px a side
    assert item.full_size == (800, 1200) and item.image.shape[:2] == (100, 150)
    set_max_pixels(200_000)  # 0.96 Mpx declared, 0.2 Mpx limit: refused before decoding, even at 1/8 scale
    try:
        with pytest.raises(ImageReadError, match="limit"):
            load_for_inference(path, min_side=64)
    finally:
        set_max_pixels(100_000_000)


@pytest.mark.parametrize("width,height,progressive", [(60000, 60000, False), (60000, 60000, True),
                                                      (30000, 3000, True)])
def test_a_tiny_jpeg_declaring_a_huge_frame_costs_no_memory(tmp_path, width, height, progressive):
    """A 1 KB file declaring 3.6 Gpx peaked at 7-11 GB (libjpeg allocates the frame even at 1/8
    scale): refused from its header; one under the limit decodes in bounded memory."""
    import subprocess
    import sys

    from odd_inputs import jpeg_declaring

    path = tmp_path / "declared.jpg"
    path.write_bytes(jpeg_declaring(width, height, progressive))
    code = (PEAK_KB + "from dermaseg.data.io import ImageReadError\n"
            "from dermaseg.data.loading import load_for_inference\n"
            f"try:\n    load_for_inference({str(path)!r})\n    print('decoded')\n"
            "except ImageReadError as exc:\n    print(exc.reason)\n"
            "print(peak_kb())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    outcome, peak_kb = done.stdout.strip().splitlines()
    assert ("limit" in outcome) == (width * height > 100_000_000), outcome
    assert int(peak_kb) < 1_000_000, f"peak {int(peak_kb) // 1024} MB"


@pytest.mark.parametrize("size", [(3, 60000), (60000, 3)])
def test_a_3_by_60000_jpeg_is_segmented_at_its_own_size(tmp_path, size):
    """It was skipped as "corrupt (ZeroDivisionError)": a 1/8-scale decode asked for 0 pixels."""
    from dermaseg.cli import main

    path = tmp_path / "strip.jpg"
    Image.fromarray(np.full((size[1], size[0], 3), 120, np.uint8)).save(path)
    # a blank strip is no skin photograph (exit 3, not segmented); the sizes are the test: accept it
    assert main(["predict", str(path), "--out", str(tmp_path / "refused")]) == 3
    assert main(["predict", str(path), "--out", str(tmp_path / "out"), "--accept-any-image"]) == 0
    assert Image.open(tmp_path / "out" / "strip_segmentation.png").size == size
    # the classifier's quality check shrank it to 0 pixels a side and crashed in OpenCV
    assert main(["classify", "predict", str(path), "--out", str(tmp_path / "cls"), "--tta", "1",
                 "--accept-any-image"]) == 0
    assert "too_small" in (tmp_path / "cls" / "classification.csv").read_text() or \
        "under 32 px" in (tmp_path / "cls" / "classification.csv").read_text()


# --- output folder problems are caught before any work ----------------------------------------


@pytest.mark.parametrize("kind", ["file", "under_file"])
def test_unusable_output_folder_fails_first_in_one_line(tmp_path, kind, capsys):
    from dermaseg.cli import main

    blocker = tmp_path / "taken"
    blocker.write_text("x")
    out = blocker if kind == "file" else blocker / "sub" / "out"
    image = tmp_path / "in.png"
    save_pair(image, None)
    for command in (["predict", str(image)], ["classify", "predict", str(image)]):
        assert main([*command, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and str(out) in err and "is a file" in err
        assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(tmp_path):
    from dermaseg.data.inputs import prepare_output_dir

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="not writable"):
            prepare_output_dir(locked / "out")
    finally:
        locked.chmod(0o700)


# --- exit codes: 0 all done, 3 some skipped, 2 usage / nothing to do ----------------------------


def test_exit_codes(tmp_path, capsys):
    from dermaseg.cli import main

    good = tmp_path / "good"
    save_pair(good / "a.png", None)
    assert main(["predict", str(good), "--out", str(tmp_path / "o1"), "--no-overlay"]) == 0
    (good / "broken.jpg").write_bytes(b"nope")
    assert main(["predict", str(good), "--out", str(tmp_path / "o2"), "--no-overlay"]) == 3
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", str(empty), "--out", str(tmp_path / "o3")]) == 2
    assert main(["predict", str(tmp_path / "nothing*.jpg"), "--out", str(tmp_path / "o4")]) == 3
    assert main([]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_evaluate_exits_3_and_lists_a_skipped_image(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")  # evaluate writes plots and tables: the training install
    from dermaseg.cli import main
    from dermaseg.segment.segmenter import Segmenter

    monkeypatch.setattr(Segmenter, "_network", disc_network)
    for i in range(3):
        save_pair(tmp_path / "data" / "images" / f"im{i}.png", tmp_path / "data" / "masks" / f"im{i}.png", seed=i)
    (tmp_path / "data" / "images" / "im1.png").write_bytes(_broken_png())
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", "isic-unet-lite0", "--data", str(tmp_path / "data"), "--split", "all",
                 "--out", str(out)]) == 3
    summary = json.loads((out / "summary.json").read_text())
    assert [s["image_id"] for s in summary["skipped"]] == ["im1"] and summary["n_images"] == 2
    assert "Traceback" not in capsys.readouterr().err


def _broken_png() -> bytes:
    from odd_inputs import _broken_chunk_png, _encode

    image, _ = lesion_image(96, 128, seed=1)
    return _broken_chunk_png(_encode(image, "PNG"))


def test_exit_codes_are_in_the_help(capsys):
    from dermaseg.cli import main

    for command in (["predict"], ["evaluate"], ["classify", "predict"], ["data", "inspect"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "exit status: 0" in text and "3 some files" in text and "2 usage" in text, command


# --- data inspect: name clashes, double masks, 0/1 masks ---------------------------------------


def test_inspect_names_clashes_double_masks_and_zero_one_masks(tmp_path):
    from dermaseg.data.inspect import inspect_dataset
    from dermaseg.data.readers import open_dataset

    _, mask = save_pair(tmp_path / "images" / "x.jpg", tmp_path / "masks" / "x_segmentation.png", seed=1)
    save_pair(tmp_path / "images" / "x.png", None, seed=2)
    Image.fromarray(mask).save(tmp_path / "masks" / "x_mask.png")
    save_pair(tmp_path / "images" / "z.png", None, seed=3)
    Image.fromarray((mask > 0).astype(np.uint8)).save(tmp_path / "masks" / "z.png")
    report = inspect_dataset(open_dataset(tmp_path), workers=1)
    by_code = {}
    for p in report.problems:
        by_code.setdefault(p.code, []).append(p)
    assert [p.path.name for p in by_code["name_collision"]] == ["x.png"]
    assert "x.jpg is used" in by_code["name_collision"][0].reason
    assert [p.path.name for p in by_code["double_mask"]] == ["x_mask.png"]  # `_segmentation` is the ISIC name
    assert "x_segmentation.png is used" in by_code["double_mask"][0].reason
    assert [p.image_id for p in by_code["zero_one_mask"]] == ["z"]
    assert "non_binary_mask" not in by_code and "empty_mask" not in by_code
    assert min(report.coverage) > 0.05  # the 0/1 mask counts its lesion
    sample = open_dataset(tmp_path).load(open_dataset(tmp_path).record("z"))
    assert set(np.unique(sample.mask)) == {0, 255}


# --- classify predict flags what it should not be trusted on -----------------------------------


def test_classify_predict_warning_column(tmp_path):
    require_shared_data()
    from dermaseg.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "lesion.jpg").write_bytes((HAM10000 / "HAM10000_images" / "ISIC_0024306.jpg").read_bytes())
    Image.fromarray(np.zeros((150, 200, 3), np.uint8)).save(folder / "black.jpg")
    Image.fromarray(np.full((1, 1, 3), 200, np.uint8)).save(folder / "dot.png")
    # the black picture and the dot are not skin photographs: not classified, exit 3
    assert main(["classify", "predict", str(folder), "--out", str(tmp_path / "kinds")]) == 3
    rows = {r["image_id"]: r for r in csv.DictReader(open(tmp_path / "kinds" / "classification.csv"))}
    assert {k: r["image_kind"] for k, r in rows.items()} == {"lesion": "dermoscopy", "black": "other", "dot": "other"}
    assert rows["black"]["predicted"] == "" and "does not look like" in rows["black"]["warning"]
    # classified anyway, each carries why it should not be trusted
    assert main(["classify", "predict", str(folder), "--out", str(tmp_path / "out"), "--accept-any-image"]) == 0
    rows = {r["image_id"]: r for r in csv.DictReader(open(tmp_path / "out" / "classification.csv"))}
    assert rows["lesion"]["warning"] == ""
    assert "no lesion found" in rows["black"]["warning"] and "dark" in rows["black"]["warning"]
    assert "1x1 px" in rows["dot"]["warning"]
