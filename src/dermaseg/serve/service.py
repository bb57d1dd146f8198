"""The work behind each endpoint, run on a worker thread: decoded image in, answer out.

Segmentation, measurement and classification are the library's own (`Segmenter.segment`,
`SegmentationResult.measurements`, `Classifier.predict_proba`); this module only shapes their
results for HTTP.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from dermaseg.measure import MIN_AREA_PX
from dermaseg.data.encode import encode_png
from dermaseg.core.cliutil import json_safe
from dermaseg.serve.fields import describe

def jsonable(value):
    """What the API answers: strict JSON, NaN/inf as null."""
    return json_safe(value, finite=True)


def outline(mask: np.ndarray, max_points: int = 400) -> list[list[list[int]]]:
    """Outer borders of the lesions as polygons [[x, y], ...] in image pixels, simplified to
    about a pixel per 0.2% of the image's long side so a 6000 px mask stays a small answer."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    tolerance = max(0.5, 0.002 * max(mask.shape))
    polygons = []
    for contour in sorted(contours, key=cv2.contourArea, reverse=True):
        if cv2.contourArea(contour) < MIN_AREA_PX:
            continue
        poly = cv2.approxPolyDP(contour, tolerance, True)
        while len(poly) > max_points:
            tolerance *= 1.5
            poly = cv2.approxPolyDP(contour, tolerance, True)
        polygons.append(poly[:, 0, :].tolist())
    return polygons


def model_card(segmenter) -> dict:
    return {"name": segmenter.name, "version": segmenter.version, "backend": segmenter.backend_name,
            "threshold": segmenter.threshold}


def image_kind(engines, item, accept_any_image: bool):
    """The image's kind (dermaseg.kind); ApiError 422 for kind other unless `accept_any_image`."""
    from dermaseg.serve.errors import ApiError

    t0 = time.perf_counter()
    kind = engines.kind_check([item.image])[0]
    ms = round((time.perf_counter() - t0) * 1000, 2)
    if kind.is_other and not accept_any_image:
        raise ApiError(422, f"{kind.warning}: not segmented or classified (accept_any_image=true to do it anyway)",
                       fields=jsonable(kind.fields()))
    return kind, ms


def segment(engines, item, *, image_id: str, mm_per_pixel: float | None = None, want: str = "json",
            accept_any_image: bool = False):
    """want: 'json' -> dict (measurements.json's per-image entry + outline, fields, model);
    'mask' -> PNG bytes of the mask at the image's own size; 'overlay' -> PNG bytes of the overlay."""
    segmenter = engines.segmenter
    kind, kind_ms = image_kind(engines, item, accept_any_image)
    result = segmenter.segment(item, kind)
    if want == "mask":
        return encode_png(result.mask)
    if want == "overlay":
        from dermaseg.segment.overlay import overlay

        return encode_png(overlay(item.image, result.work_mask))
    t0 = time.perf_counter()
    lesions = result.measurements(mm_per_pixel)  # at the working resolution, in full-resolution units
    polygons = outline(result.mask) if result.lesion_found else []
    timings = dict(result.timings_ms, kind_ms=kind_ms, measure_ms=round((time.perf_counter() - t0) * 1000, 2))
    names = list(dict.fromkeys(k for row in lesions for k in row))
    return jsonable({
        "image_id": image_id, "width": item.full_size[1], "height": item.full_size[0], **kind.fields(),
        "lesion_found": result.lesion_found, "mask_quality": result.mask_quality,
        "check_outline": result.check_outline, "warnings": [kind.warning] if kind.warning else [],
        "mm_per_pixel": mm_per_pixel, "lesions": lesions,
        "outline": polygons, "fields": describe(names), "timings_ms": timings, "model": model_card(segmenter),
    })


def classify(engines, item, *, image_id: str, accept_any_image: bool = False) -> dict:
    clf = engines.classifier
    from dermaseg.classify.predict import top_class
    from dermaseg.serve.engines import classifier_name, classifier_version

    kind, kind_ms = image_kind(engines, item, accept_any_image)
    t0 = time.perf_counter()
    probs = clf.predict_proba([item.image])[0]
    ms = round((time.perf_counter() - t0) * 1000, 2)
    decided = top_class(probs, clf.class_names, getattr(clf, "decisions", None))
    return jsonable({
        "image_id": image_id, "width": item.full_size[1], "height": item.full_size[0], **kind.fields(),
        "predicted": decided["predicted"], "probabilities": decided["probabilities"],
        "prediction_set": decided.get("prediction_set"), "triage": decided.get("triage"),
        "warnings": [kind.warning] if kind.warning else [],
        "model": {"name": classifier_name(clf), "version": classifier_version(clf), "backend": getattr(clf, "backend_name", "pytorch"),
                  "tta_views": clf.tta_views},
        "timings_ms": {"kind_ms": kind_ms, "model_ms": ms},
    })
