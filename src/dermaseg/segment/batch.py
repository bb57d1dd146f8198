"""Batch prediction over files: masks, overlays, measurements; bad files reported and skipped."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dermaseg.core.cliutil import json_safe
from dermaseg.core.files import (
    OutputError,
    atomic_open,
    refuse_earlier_outputs,
    spreadsheet_text,
)
from dermaseg.data.encode import write_jpeg, write_png
from dermaseg.data.inputs import output_ids, prepare_output_dir

RESULT_FILES = ("measurements.csv", "measurements.json")


def predict_files(files: list[Path], out_dir: Path | str, *, model=None, tta: bool = False, threshold=None,
                  postprocess: bool = True, mm_per_pixel: float | None = None, overlay: bool = True,
                  threads: int | None = None, quiet: bool = False, skipped: list[dict] | None = None,
                  ignored: list[dict] | None = None, batch_size: int = 4, overwrite: bool = False) -> dict:
    """Segment `files` into `out_dir`; `skipped`/`ignored` (from gather_inputs) join the summary.

    Three stages overlap (dermaseg.segment.stages): decoding the next images, the network on
    a batch, and upscaling/writing/measuring the previous ones, so both cores stay busy.
    Output names follow `output_ids`; an `out_dir` that already holds any of them, or an
    earlier run's measurements, is refused unless `overwrite` (which first removes the files
    the earlier run's measurements.json lists).
    """
    from tqdm import tqdm

    from dermaseg.segment.segmenter import Segmenter
    from dermaseg.segment.stages import run_pipeline

    out_dir = prepare_output_dir(out_dir)
    ids = output_ids(files)
    written = [f"{ids[f]}_{kind}" for f in files for kind in ("segmentation.png", "overlay.jpg")[:1 + overlay]]
    refuse_earlier_outputs(out_dir, [*RESULT_FILES, *written], overwrite=overwrite)
    segmenter = Segmenter(model, tta=tta, threshold=threshold, postprocess=postprocess, threads=threads)
    if overwrite:
        _remove_earlier_run(out_dir, keep=set(written))
    per_image: list[dict] = []
    failed: list[dict] = [dict(s, image_id=Path(s["path"]).stem) for s in skipped or []]
    started = time.perf_counter()
    interrupted = False
    write_error: OutputError | None = None
    bar = tqdm(total=len(files), unit="img", disable=quiet or len(files) < 2, file=sys.stderr)

    def write(path, item, result, texts):
        return _write_outputs(path, ids[path], out_dir, item, result, texts, overlay, mm_per_pixel)

    try:
        for path, entry, error in run_pipeline(segmenter, files, write, batch_size=batch_size):
            bar.update(1)
            if error is not None:
                failed.append({"image_id": ids[path], "path": str(path), "error": error})
                tqdm.write(f"dermaseg: skipped {path}: {error}", file=sys.stderr)
                continue
            for text in entry["warnings"]:
                tqdm.write(f"dermaseg: warning: {text}", file=sys.stderr)
            if not entry["lesion_found"]:
                tqdm.write(f"dermaseg: {path}: no lesion found (empty mask written)", file=sys.stderr)
            per_image.append(entry)
    except KeyboardInterrupt:
        interrupted = True  # keep what is done: the measurements of finished images are still written
        raise
    except OutputError as exc:  # a full disk or a lost permission: every later image would fail too
        write_error = exc
    finally:
        bar.close()
        elapsed = time.perf_counter() - started
        summary = {"model": segmenter.name, "model_version": segmenter.version, "backend": segmenter.backend_name,
                   "threshold": segmenter.threshold, "tta": tta, "postprocess": postprocess,
                   "mm_per_pixel": mm_per_pixel, "images": len(per_image), "failed": len(failed),
                   "failures": failed, "ignored": list(ignored or []), "interrupted": interrupted,
                   "seconds": round(elapsed, 2)}
        try:
            _write_measurements(out_dir, per_image)
            with atomic_open(out_dir / "measurements.json") as fh:
                json.dump(json_safe({"summary": summary, "images": per_image}), fh, indent=2)
        except OutputError as exc:
            write_error = write_error or exc
    if write_error is not None:
        print(f"dermaseg: stopped: {write_error}; the {len(per_image)} image(s) finished before it are kept",
              file=sys.stderr)
        raise write_error
    if not quiet:
        print(f"segmented {len(per_image)} image(s) into {out_dir} in {elapsed:.1f} s"
              + (f"; {len(failed)} skipped (see measurements.json)" if failed else ""))
    return summary


def _write_outputs(path: Path, image_id: str, out_dir: Path, item, result, texts: list[str], overlay: bool,
                   mm_per_pixel: float | None) -> dict:
    """Mask at full size, overlay, measurements of one segmented image -> its measurements.json entry."""
    from dermaseg.segment.overlay import overlay as draw_overlay

    timings = result.timings_ms
    t0 = time.perf_counter()
    write_png(out_dir / f"{image_id}_segmentation.png", result.mask)
    t1 = time.perf_counter()
    if overlay:
        write_jpeg(out_dir / f"{image_id}_overlay.jpg", draw_overlay(item.image, result.work_mask))
    t2 = time.perf_counter()
    lesions = result.measurements(mm_per_pixel)
    t3 = time.perf_counter()
    timings.update(mask_write_ms=round((t1 - t0) * 1000, 2), overlay_ms=round((t2 - t1) * 1000, 2),
                   measure_ms=round((t3 - t2) * 1000, 2))
    return {"image_id": image_id, "path": str(path), "width": item.full_size[1], "height": item.full_size[0],
            "lesion_found": result.lesion_found, "warnings": texts, "timings_ms": timings, "lesions": lesions}


def _write_measurements(out_dir: Path, per_image: list[dict]) -> None:
    """measurements.csv: one row per lesion (an image without lesions keeps one row)."""
    import csv

    rows = []
    for entry in per_image:
        base = {"image_id": entry["image_id"], "width": entry["width"], "height": entry["height"],
                "lesion_found": entry["lesion_found"], "warnings": "; ".join(entry["warnings"])}
        if not entry["lesions"]:
            rows.append(base)
        for lesion in entry["lesions"]:
            row = dict(base)
            for k, v in lesion.items():
                row[k] = ";".join(v) if isinstance(v, list) and all(isinstance(x, str) for x in v) else \
                    (json.dumps(json_safe(v)) if isinstance(v, (list, dict)) else json_safe(v))
            rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_open(out_dir / "measurements.csv", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns or ["image_id"])
        writer.writeheader()
        writer.writerows({k: spreadsheet_text(v) for k, v in row.items()} for row in rows)


def _remove_earlier_run(out_dir: Path, keep: set[str]) -> None:
    """Delete the masks and overlays an earlier run's measurements.json lists (not those this run
    rewrites), so that no file in `out_dir` is left that no measurements file lists."""
    try:
        earlier = json.loads((out_dir / "measurements.json").read_text())["images"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    for entry in earlier:
        for kind in ("segmentation.png", "overlay.jpg"):
            name = f"{entry.get('image_id')}_{kind}"
            if name not in keep and "/" not in name:
                (out_dir / name).unlink(missing_ok=True)
