"""One segmented image's files and its entry: the full-size mask, the overlay, the measurements.
Shared by a local run (dermaseg.segment.batch) and a cluster worker (dermaseg.segment.cluster)."""

from __future__ import annotations

import time
from pathlib import Path

from dermaseg.data.encode import write_jpeg, write_png


def write_outputs(path: Path, image_id: str, out_dir: Path, item, result, texts: list[str], overlay: bool,
                   mm_per_pixel: float | None, kind=None) -> dict:
    """Mask at full size, overlay, measurements of one segmented image -> its measurements.json entry.
    `kind`: its dermaseg.kind.ImageKind; with `result` None (an image of kind other, not segmented)
    no file is written and the entry says why (`not_done`)."""
    from dermaseg.segment.overlay import overlay as draw_overlay

    texts = list(texts) + ([kind.warning] if kind is not None and kind.warning else [])
    about = {"image_id": image_id, "path": str(path), "width": item.full_size[1], "height": item.full_size[0],
             **(kind.fields() if kind is not None else {})}
    if result is None:
        return {**about, "lesion_found": None, "mask_quality": None, "check_outline": None, "warnings": texts,
                "timings_ms": {}, "lesions": [], "not_done": kind.warning}
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
    return {**about, "lesion_found": result.lesion_found, "mask_quality": result.mask_quality,
            "check_outline": result.check_outline, "warnings": texts, "timings_ms": timings, "lesions": lesions}
