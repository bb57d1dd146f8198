"""`dermaseg predict --cluster ADDRESS`: the same run on a Dask cluster of several machines.

Dask distributed, not a home-made scheduler and not Ray: it is pure Python and a few tens of MB,
a worker is one command (`dask worker ADDRESS`) on any machine with dermaseg installed, and it
needs nothing but a path every worker sees (a shared file system). Ray Data would suit larger
pipelines, at the price of a much heavier install and start. (`pip install "dermaseg[cluster]"`.)

The machine that runs `dermaseg predict` plans: it gathers the inputs, reads the run's journal
(what is done already), and sends chunks of image paths as tasks. Each worker process keeps one
Segmenter (one ONNX Runtime session) for the whole run, runs the same overlapped pipeline as a
local run on its chunk, and writes the masks and overlays straight into the shared output folder.
Results come back to the planner as chunks finish; it journals and streams them exactly as a
local run does, so the outputs, the skip reporting and going on after a stop are the local run's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from dermaseg.core.cluster import chunked, map_chunks

CHUNK = 16   # images per task: large enough to keep a worker's pipeline full, small enough to spread

_SEGMENTERS: dict[str, object] = {}   # per worker process: settings -> Segmenter


def results(address: str, files: list[Path], ids: dict[Path, str], out_dir: Path, settings: dict,
            chunk: int = CHUNK) -> Iterator[tuple[Path, dict | None, str | None]]:
    """(path, measurements entry, None) or (path, None, reason) per file, as chunks finish anywhere."""
    by_name = {str(f.absolute()): f for f in files}
    items = [(name, ids[f]) for name, f in by_name.items()]   # (path every worker sees, output id)
    for done in map_chunks(address, segment_chunk, chunked(items, chunk), str(out_dir.absolute()), settings):
        for name, entry, error in done:   # a worker's OutputError (full disk) stops the run here
            if entry is not None:   # name the file as the command line did, as a local run does
                entry["path"] = str(by_name[name])
                entry["warnings"] = [w.replace(name, entry["path"], 1) for w in entry["warnings"]]
            yield by_name[name], entry, error


def segment_chunk(items: list[tuple[str, str]], out_dir: str, settings: dict) -> list[tuple]:
    """Runs on a worker: segment the (path, output id) `items` into `out_dir` with the run's settings."""
    from dermaseg.core.cliutil import json_safe
    from dermaseg.segment.outputs import write_outputs
    from dermaseg.segment.segmenter import Segmenter
    from dermaseg.segment.stages import run_pipeline

    from dermaseg.kind import ImageKindCheck

    key = json.dumps(settings, sort_keys=True)
    if key not in _SEGMENTERS:
        _SEGMENTERS[key] = (Segmenter(settings["model"], tta=settings["tta"], threshold=settings["threshold"],
                                      postprocess=settings["postprocess"], threads=settings["threads"],
                                      zoom_below=settings["zoom_below"], backend=settings.get("backend", "auto"),
                                      precision=settings.get("precision", "auto"),
                                      second_look_model=settings.get("second_look_model")),
                            ImageKindCheck(threads=settings["threads"]))
    segmenter, kind_check = _SEGMENTERS[key]
    out = Path(out_dir)
    ids = dict(items)

    def write(path, item, result, texts, kind):
        return write_outputs(path, ids[str(path)], out, item, result, texts, settings["overlay"],
                             settings["mm_per_pixel"], kind)

    return [(str(path), json_safe(entry) if entry is not None else None, error)
            for path, entry, error in run_pipeline(segmenter, [Path(f) for f in ids], write,
                                                   batch_size=settings["batch_size"], kind_check=kind_check,
                                                   accept_any_image=settings["accept_any_image"])]
