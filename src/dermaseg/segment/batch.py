"""Batch prediction over files: masks, overlays, measurements; bad files reported and skipped."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dermaseg.core.cliutil import json_safe, progress_bar
from dermaseg.core.files import (
    OutputError,
    StreamedTable,
    atomic_open,
    refuse_earlier_outputs,
    spreadsheet_text,
)
from dermaseg.core.journal import Journal
from dermaseg.data.inputs import output_ids, prepare_output_dir
from dermaseg.segment.outputs import write_outputs
from dermaseg.segment.zoom import DEFAULT_ZOOM_BELOW

RESULT_FILES = ("measurements.csv", "measurements.json", "measurements.jsonl")
JOURNAL = "measurements.jsonl"   # one line per finished image: what a rerun goes on from


def predict_files(files: list[Path], out_dir: Path | str, *, model=None, tta: bool = False, threshold=None,
                  postprocess: bool = True, mm_per_pixel: float | None = None, overlay: bool = True,
                  threads: int | None = None, quiet: bool = False, skipped: list[dict] | None = None,
                  ignored: list[dict] | None = None, batch_size: int = 4, overwrite: bool = False,
                  cluster: str | None = None, accept_any_image: bool = False, zoom_below: float | None = DEFAULT_ZOOM_BELOW,
                  backend: str = "auto", precision: str = "auto", second_look_model=None) -> dict:
    """Segment `files` into `out_dir`; `skipped`/`ignored` (from gather_inputs) join the summary.

    Three stages overlap (dermaseg.segment.stages): decoding the next images, the network on
    a batch, and upscaling/writing/measuring the previous ones, so both cores stay busy.
    Results stream: each finished image's rows are appended to measurements.csv, and its entry
    to measurements.jsonl (dermaseg.core.journal), as it finishes; measurements.json is written
    at the end. The same call on the same `out_dir` goes on where a stopped run stopped:
    images the journal lists (same path, size and modification time) are not done again.
    Output names follow `output_ids`; an `out_dir` holding other outputs, or a run with other
    settings, is refused unless `overwrite` (which first removes what the earlier run listed).
    `cluster`: a Dask scheduler's address; the images are then segmented by its workers
    (dermaseg.segment.cluster), into the same outputs.
    Each image's kind is checked first (dermaseg.kind): one that does not look like a skin-lesion
    photograph (`other`) gets a row saying so, no mask and no measurements, and is listed in
    `not_done` with the reason, unless `accept_any_image`. `zoom_below`: the Segmenter's second
    look at small lesions (None: one pass); `second_look_model`: what segments its crops (None: the
    model's own). `backend`/`precision`: what runs the network (Segmenter).
    """
    from dermaseg.kind.check import BackgroundImageKindCheck
    from dermaseg.segment.segmenter import Segmenter
    from dermaseg.segment.stages import run_pipeline

    out_dir = prepare_output_dir(out_dir)
    ids = output_ids(files)
    settings = {"model": str(model) if model is not None else None, "tta": tta, "threshold": threshold,
                "postprocess": postprocess, "mm_per_pixel": mm_per_pixel, "overlay": overlay,
                "accept_any_image": accept_any_image, "zoom_below": zoom_below}
    if backend != "auto" or precision != "auto":   # (absent by default: journals of earlier runs still match)
        settings.update(backend=backend, precision=precision)
    if second_look_model is not None:
        settings["second_look_model"] = str(second_look_model)
    kind_check = BackgroundImageKindCheck(threads=threads) if not cluster else None
    segmenter = Segmenter(model, tta=tta, threshold=threshold, postprocess=postprocess, threads=threads,
                          zoom_below=zoom_below, backend=backend, precision=precision,
                          second_look_model=second_look_model)
    settings["model_version"] = segmenter.version   # a run is never finished by another version of the model
    journal = Journal(out_dir / JOURNAL, settings)
    resuming = journal.path.exists() and not overwrite
    if not resuming:
        written = [f"{ids[f]}_{kind}" for f in files for kind in ("segmentation.png", "overlay.jpg")[:1 + overlay]]
        refuse_earlier_outputs(out_dir, [*RESULT_FILES, *written], overwrite=overwrite)
    if overwrite:
        _remove_earlier_run(out_dir)
    done_before = journal.resume(overwrite=not resuming)
    todo = [f for f in files if not journal.is_done(f)]
    failed: list[dict] = [dict(s, image_id=Path(s["path"]).stem) for s in skipped or []]
    started = time.perf_counter()
    interrupted = False
    finished = 0
    write_error: OutputError | None = None
    columns = csv_columns(mm_per_pixel is not None)
    table = StreamedTable(out_dir / "measurements.csv", columns, csv_rows(journal.rows(), columns))
    bar = progress_bar(len(todo), quiet=quiet)
    if done_before and not quiet:
        print(f"dermaseg: going on in {out_dir}: {len(files) - len(todo)} image(s) done before", file=sys.stderr)

    def write(path, item, result, texts, kind):
        return write_outputs(path, ids[path], out_dir, item, result, texts, overlay, mm_per_pixel, kind)

    if cluster:
        from dermaseg.segment.cluster import results

        def for_workers(name):   # a model file by its absolute path: workers may start elsewhere
            return str(Path(str(name)).absolute()) if name is not None and Path(str(name)).exists() else name

        remote = dict(settings, threads=threads, batch_size=batch_size, model=for_workers(model),
                      second_look_model=for_workers(second_look_model))
        stream = results(cluster, todo, ids, out_dir, remote)
    else:
        stream = run_pipeline(segmenter, todo, write, batch_size=batch_size, kind_check=kind_check,
                              accept_any_image=accept_any_image)
    try:
        for path, entry, error in stream:
            bar.update(1)
            if error is not None:
                failed.append({"image_id": ids[path], "path": str(path), "error": error})
                bar.write(f"dermaseg: skipped {path}: {error}", file=sys.stderr)
                continue
            for text in entry["warnings"]:
                if text != entry.get("not_done"):
                    bar.write(f"dermaseg: warning: {text}", file=sys.stderr)
            if entry.get("not_done"):
                bar.write(f"dermaseg: not segmented {path}: {entry['not_done']}", file=sys.stderr)
            elif not entry["lesion_found"]:
                bar.write(f"dermaseg: {path}: no lesion found (empty mask written)", file=sys.stderr)
            entry = json_safe(entry)
            journal.record(path, entry)
            table.append(csv_rows([entry], columns))
            finished += 1
    except KeyboardInterrupt:
        interrupted = True  # what is done stays listed: the journal, the CSV and the JSON below
        raise
    except OutputError as exc:  # a full disk or a lost permission: every later image would fail too
        write_error = exc
    finally:
        bar.close()
        journal.close()
        table.close()
        elapsed = time.perf_counter() - started
        order = [ids[f] for f in files]
        rank = {str(f): i for i, f in enumerate(files)}
        failed.sort(key=lambda f: rank.get(f["path"], -1))   # input order, however the work was spread
        # the rows are read back from the journal one at a time: memory stays flat on any archive
        n_images, not_done = 0, []
        for e in journal.rows(order):
            n_images += 1
            if e.get("not_done"):
                not_done.append({"image_id": e["image_id"], "path": e["path"], "reason": e["not_done"]})
        summary = {"model": segmenter.name, "model_version": segmenter.version, "backend": segmenter.backend_name,
                   "threshold": segmenter.threshold, "tta": tta, "postprocess": postprocess,
                   "zoom_below": segmenter.zoom_below, "second_look_model": segmenter.second_look_name,
                   "mm_per_pixel": mm_per_pixel, "images": n_images, "done_before": len(files) - len(todo),
                   "failed": len(failed), "failures": failed, "not_done": not_done,
                   "ignored": list(ignored or []),
                   "interrupted": interrupted, "seconds": round(elapsed, 2)}
        try:
            StreamedTable.write(out_dir / "measurements.csv", columns, csv_rows(journal.rows(order), columns))
            with atomic_open(out_dir / "measurements.json") as fh:
                write_measurements_json(fh, summary, journal.rows(order))
        except OutputError as exc:
            write_error = write_error or exc
    if write_error is not None:
        print(f"dermaseg: stopped: {write_error}; the {n_images} image(s) finished before it are kept",
              file=sys.stderr)
        raise write_error
    if not quiet:
        print(f"segmented {finished} image(s) into {out_dir} in {elapsed:.1f} s"
              + (f" ({len(files) - len(todo)} done before)" if len(todo) < len(files) else "")
              + (f"; {len(failed)} skipped (see measurements.json)" if failed else "")
            + (f"; {len(not_done)} not segmented: not a skin-lesion photograph (--accept-any-image to "
               "segment them anyway)" if not_done else ""))
    return summary


def write_measurements_json(fh, summary: dict, entries) -> None:
    """measurements.json ({"summary": ..., "images": [...]}, exactly as json.dump(indent=2) writes
    it) with the entries written one at a time as they are read."""
    head = json.dumps(json_safe({"summary": summary}), indent=2)
    fh.write(head[:-2] + ',\n  "images": [')
    n = 0
    for entry in entries:
        body = json.dumps(json_safe(entry), indent=2).replace("\n", "\n    ")
        fh.write(("," if n else "") + "\n    " + body)
        n += 1
    fh.write("\n  ]\n}" if n else "]\n}")


def csv_columns(mm: bool) -> list[str]:
    """The image's fields, then every lesion field (the millimetre ones only with a scale)."""
    from dermaseg.measure.lesions import COLUMNS

    lesion = [c for c in COLUMNS if c != "image_id" and (mm or not (c.endswith("_mm") or c.endswith("_mm2")))]
    return ["image_id", "width", "height", "image_kind", "image_kind_score", "lesion_found", "mask_quality",
            "check_outline", "warnings", *lesion]


def csv_rows(entries, columns: list[str]):
    """measurements.json entries (any iterable, read as it goes) as CSV rows in `columns`, one at a
    time: one a lesion (an image without lesions keeps one), lists joined by ";", formulas defused."""
    for entry in entries:
        base = {k: entry.get(k) for k in ("image_id", "width", "height", "image_kind", "image_kind_score",
                                          "lesion_found", "mask_quality", "check_outline")}
        base["warnings"] = "; ".join(entry["warnings"])
        for lesion in entry["lesions"] or [{}]:
            row = dict(base)
            for k, v in lesion.items():
                row[k] = ";".join(v) if isinstance(v, list) and all(isinstance(x, str) for x in v) else \
                    (json.dumps(json_safe(v)) if isinstance(v, (list, dict)) else json_safe(v))
            yield [spreadsheet_text(row.get(c, "")) for c in columns]


def _remove_earlier_run(out_dir: Path) -> None:
    """Delete the masks and overlays an earlier run's measurements.json or journal lists (a run
    killed before the end wrote only its journal), and the journal, so that no file in `out_dir`
    is left that no measurements file lists."""
    from itertools import chain

    from dermaseg.core.journal import read_rows

    try:
        earlier = json.loads((out_dir / "measurements.json").read_text())["images"]
    except (OSError, ValueError, KeyError, TypeError):
        earlier = []
    journal = out_dir / JOURNAL
    for entry in chain(earlier if isinstance(earlier, list) else [], read_rows(journal) if journal.is_file() else []):
        if not isinstance(entry, dict):
            continue
        for kind in ("segmentation.png", "overlay.jpg"):
            name = f"{entry.get('image_id')}_{kind}"
            if "/" not in name:
                (out_dir / name).unlink(missing_ok=True)
    (out_dir / JOURNAL).unlink(missing_ok=True)
