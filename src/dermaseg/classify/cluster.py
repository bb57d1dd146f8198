"""`dermaseg classify predict --cluster ADDRESS`: the same run on a Dask cluster.

As for segmentation (dermaseg.segment.cluster says why Dask, and how a run is planned and
journalled): chunks of image paths go to the workers; each worker process loads the classifier
(and the segmentation model of its lesion check) once for the run, and sends back each image's
row, which the planner journals and streams exactly as a local run does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from dermaseg.core.cluster import chunked, map_chunks

CHUNK = 16
_CLASSIFIERS: dict[str, tuple] = {}   # per worker process: settings -> (classifier, lesion check)


def results(address: str, files: list[Path], ids: dict[Path, str], min_side: int, settings: dict,
            chunk: int = CHUNK) -> Iterator[tuple[Path, dict | None, str | None]]:
    """(path, row, None) or (path, None, reason) per file, as chunks finish anywhere."""
    by_name = {str(f.absolute()): f for f in files}
    items = [(name, ids[f]) for name, f in by_name.items()]   # (path every worker sees, output id)
    for done in map_chunks(address, classify_chunk_on_worker, chunked(items, chunk), min_side, settings):
        for name, row, error in done:
            if row is not None:   # name the file as the command line did, as a local run does
                row["path"] = str(by_name[name])
                row["warning"] = row["warning"].replace(name, row["path"])
            yield by_name[name], row, error


def classify_chunk_on_worker(items: list[tuple[str, str]], min_side: int, settings: dict) -> list[tuple]:
    """Runs on a worker: classify the (path, output id) `items` with the run's settings."""
    from dermaseg.classify.predict import LesionCheck, classify_chunk, load_classifier

    key = json.dumps(settings, sort_keys=True)
    if key not in _CLASSIFIERS:
        classifier = load_classifier(settings["model"], tta_views=settings["tta_views"], crop=settings["crop"],
                                     segmenter=settings["segmenter"], threads=settings["threads"],
                                     backend=settings.get("backend", "auto"), precision=settings.get("precision", "auto"))
        _CLASSIFIERS[key] = classifier, LesionCheck.for_classifier(
            classifier, settings["lesion_check"], accept_any_image=settings["accept_any_image"],
            threads=settings["threads"])
    classifier, check = _CLASSIFIERS[key]
    ids = {Path(name): image_id for name, image_id in items}
    return [(str(path), row, error) for path, row, error in classify_chunk(classifier, check, list(ids), ids, min_side)]
