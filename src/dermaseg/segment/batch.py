"""Batch prediction over files: masks, overlays, measurements; bad files reported and skipped."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


from dermaseg.core.cliutil import json_safe
from dermaseg.data.encode import write_jpeg, write_png
from dermaseg.data.inputs import prepare_output_dir


def predict_files(files: list[Path], out_dir: Path | str, *, model=None, tta: bool = False, threshold=None,
                  postprocess: bool = True, mm_per_pixel: float | None = None, overlay: bool = True,
                  threads: int | None = None, quiet: bool = False, skipped: list[dict] | None = None,
                  ignored: list[dict] | None = None, batch_size: int = 4) -> dict:
    """Segment `files` into `out_dir`; `skipped`/`ignored` (from gather_inputs) join the summary.

    Three stages overlap (dermaseg.segment.stages): decoding the next images, the network on
    a batch, and upscaling/writing/measuring the previous ones, so both cores stay busy.
    """
    from tqdm import tqdm

    from dermaseg.segment.stages import run_pipeline
    from dermaseg.segment.segmenter import Segmenter

    out_dir = prepare_output_dir(out_dir)
    segmenter = Segmenter(model, tta=tta, threshold=threshold, postprocess=postprocess, threads=threads)
    per_image: list[dict] = []
    failed: list[dict] = [dict(s, image_id=Path(s["path"]).stem) for s in skipped or []]
    started = time.perf_counter()
    interrupted = False
    bar = tqdm(total=len(files), unit="img", disable=quiet or len(files) < 2, file=sys.stderr)

    def write(path, item, result, texts):
        return _write_outputs(path, out_dir, item, result, texts, overlay, mm_per_pixel)

    try:
        for path, entry, error in run_pipeline(segmenter, files, write, batch_size=batch_size):
            bar.update(1)
            if error is not None:
                failed.append({"image_id": path.stem, "path": str(path), "error": error})
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
    finally:
        bar.close()
        elapsed = time.perf_counter() - started
        summary = {"model": segmenter.name, "model_version": segmenter.version, "backend": segmenter.backend_name,
                   "threshold": segmenter.threshold, "tta": tta, "postprocess": postprocess,
                   "mm_per_pixel": mm_per_pixel, "images": len(per_image), "failed": len(failed),
                   "failures": failed, "ignored": list(ignored or []), "interrupted": interrupted,
                   "seconds": round(elapsed, 2)}
        _write_measurements(out_dir, per_image)
        with open(out_dir / "measurements.json", "w") as fh:
            json.dump(json_safe({"summary": summary, "images": per_image}), fh, indent=2)
    if not quiet:
        print(f"segmented {len(per_image)} image(s) into {out_dir} in {elapsed:.1f} s"
              + (f"; {len(failed)} skipped (see measurements.json)" if failed else ""))
    return summary


def _write_outputs(path: Path, out_dir: Path, item, result, texts: list[str], overlay: bool,
                   mm_per_pixel: float | None) -> dict:
    """Mask at full size, overlay, measurements of one segmented image -> its measurements.json entry."""
    from dermaseg.segment.overlay import overlay as draw_overlay

    image_id = path.stem
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
                "lesion_found": entry["lesion_found"]}
        if not entry["lesions"]:
            rows.append(base)
        for lesion in entry["lesions"]:
            row = dict(base)
            for k, v in lesion.items():
                row[k] = ";".join(v) if isinstance(v, list) and all(isinstance(x, str) for x in v) else \
                    (json.dumps(json_safe(v)) if isinstance(v, (list, dict)) else json_safe(v))
            rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(out_dir / "measurements.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns or ["image_id"])
        writer.writeheader()
        writer.writerows(rows)
