"""Batch prediction over files: masks, overlays, measurements; bad files reported and skipped."""

from __future__ import annotations

import glob
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from dermaseg.data.io import IMAGE_SUFFIXES, ImageReadError

PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1]


def collect_inputs(paths: list[str]) -> list[Path]:
    """Files, folders (their images, sorted) and glob patterns -> unique files, in order."""
    files: list[Path] = []
    missing = []
    for text in paths:
        p = Path(text)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            files.append(p)
        else:
            matched = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
            if matched:
                files += matched
            else:
                missing.append(text)
    for text in missing:
        print(f"dermaseg: warning: {text}: no such file, folder or matching pattern", file=sys.stderr)
    seen, unique = set(), []
    for f in files:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append(f)
    if not unique:
        raise ValueError("no input images found in " + ", ".join(paths))
    return unique


def write_png(path: Path, array: np.ndarray) -> None:
    data = array if array.ndim == 2 else cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), data, PNG_FAST):
        raise OSError(f"{path}: could not write PNG")


def measure(item, mask: np.ndarray, mm_per_pixel: float | None) -> list[dict]:
    """Lesion measurements in full-resolution pixels (and mm when a scale is given).

    Huge JPEGs are decoded at reduced scale (long side >= 1024 px): they are measured at that
    scale and converted, which keeps measuring a 24 Mpx photo as fast as a 1 Mpx one.
    """
    from dermaseg.measure import measure_lesions

    image = item.image
    if item.reduced:
        small = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
        s = item.full_size[1] / image.shape[1]
        rows = measure_lesions(small, image, mm_per_pixel=mm_per_pixel * s if mm_per_pixel else None)
        for row in rows:
            for key, value in list(row.items()):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    if key == "area_px":
                        row[key] = value * s * s
                    elif key.endswith("_px") or key in ("centroid_x", "centroid_y"):
                        row[key] = value * s
        return rows
    return measure_lesions(mask, image, mm_per_pixel=mm_per_pixel)


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def predict_files(files: list[Path], out_dir: Path | str, *, model=None, tta: bool = False, threshold=None,
                  postprocess: bool = True, mm_per_pixel: float | None = None, overlay: bool = True,
                  threads: int | None = None, quiet: bool = False) -> dict:
    from tqdm import tqdm

    from dermaseg.predict.overlay import overlay as draw_overlay
    from dermaseg.predict.segmenter import Segmenter

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    segmenter = Segmenter(model, tta=tta, threshold=threshold, postprocess=postprocess, threads=threads)
    per_image: list[dict] = []
    failed: list[dict] = []
    started = time.perf_counter()
    bar = tqdm(files, unit="img", disable=quiet or len(files) < 2, file=sys.stderr)
    for path in bar:
        image_id = path.stem
        try:
            item, result = segmenter.segment_file(path)
        except (ImageReadError, ValueError, OSError) as exc:
            reason = exc.reason if isinstance(exc, ImageReadError) else str(exc)
            failed.append({"image_id": image_id, "path": str(path), "error": reason})
            tqdm.write(f"dermaseg: skipped {path}: {reason}", file=sys.stderr)
            continue
        write_png(out_dir / f"{image_id}_segmentation.png", result.mask)
        if overlay:
            write_png(out_dir / f"{image_id}_overlay.png", draw_overlay(item.image, result.mask))
        lesions = measure(item, result.mask, mm_per_pixel) if result.lesion_found else []
        if not result.lesion_found:
            tqdm.write(f"dermaseg: {path}: no lesion found (empty mask written)", file=sys.stderr)
        per_image.append({"image_id": image_id, "path": str(path), "width": item.full_size[1],
                          "height": item.full_size[0], "lesion_found": result.lesion_found,
                          "timings_ms": result.timings_ms, "lesions": lesions})
    elapsed = time.perf_counter() - started
    _write_measurements(out_dir, per_image)
    summary = {"model": segmenter.name, "model_version": segmenter.version, "backend": segmenter.backend_name,
               "threshold": segmenter.threshold, "tta": tta, "postprocess": postprocess,
               "mm_per_pixel": mm_per_pixel, "images": len(per_image), "failed": len(failed),
               "failures": failed, "seconds": round(elapsed, 2)}
    with open(out_dir / "measurements.json", "w") as fh:
        json.dump(_json_safe({"summary": summary, "images": per_image}), fh, indent=2)
    if not quiet:
        print(f"segmented {len(per_image)} image(s) into {out_dir} in {elapsed:.1f} s"
              + (f"; {len(failed)} skipped (see measurements.json)" if failed else ""))
    return summary


def _write_measurements(out_dir: Path, per_image: list[dict]) -> None:
    import pandas as pd

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
                    (json.dumps(_json_safe(v)) if isinstance(v, (list, dict)) else v)
            rows.append(row)
    pd.DataFrame(rows).to_csv(out_dir / "measurements.csv", index=False)
