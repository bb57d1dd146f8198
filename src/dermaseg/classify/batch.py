"""`dermaseg classify predict` over files: rows streamed to classification.csv, journalled, resumable,
on this machine or on a Dask cluster (dermaseg.classify.cluster)."""

from __future__ import annotations

import sys
from pathlib import Path

from dermaseg.classify.predict import Classifier, LesionCheck, classify_chunk


def classify_files(classifier: Classifier, files: list[Path], out_csv: Path | str, *, chunk: int = 16,
                   progress: bool = True, lesion_check: bool = True, skipped: list[dict] | None = None,
                   ignored: list[dict] | None = None, overwrite: bool = False, cluster: str | None = None,
                   remote: dict | None = None, accept_any_image: bool = False, threads: int | None = None) -> dict:
    """Classify `files` into `out_csv` (+ a JSON summary beside it).

    Returns {'written', 'failed': [(path, reason)], 'not_done': [(path, reason)], 'flagged', 'csv',
    'predicted': {class: count}}.
    Each image's kind is checked first (dermaseg.kind): one that does not look like a skin-lesion
    photograph (`other`) gets a row with its kind and no prediction, and is listed in `not_done`,
    unless `accept_any_image`. The CSV's `warning` column names why a prediction should not be
    trusted (a clinical photograph, damaged JPEG data, no lesion found, too dark, blurry, tiny);
    `prediction_set` and `triage` come from the model's fitted decisions (dermaseg.classify.decisions). Image ids follow `dermaseg.data.inputs.output_ids`.
    Rows stream: each image's row is appended to the CSV, and to `<csv stem>.jsonl`
    (dermaseg.core.journal), as it is classified; the same call on the same folder goes on where
    a stopped run stopped. Other results there are refused unless `overwrite`. `cluster`: a Dask
    scheduler's address; its workers then classify, each loading the classifier from `remote`
    (load_classifier's arguments), into the same rows (dermaseg.classify.cluster).
    """
    import json

    from dermaseg.core.files import StreamedTable, atomic_open, refuse_earlier_outputs
    from dermaseg.core.journal import Journal
    from dermaseg.data.inputs import output_ids, prepare_output_dir

    out_csv = Path(out_csv)
    prepare_output_dir(out_csv.parent)
    settings = {"model": getattr(classifier, "name", None), "tta_views": classifier.tta_views,
                "runtime": getattr(classifier, "backend_name", None),
                "crop": getattr(classifier, "cropper", None) is not None, "lesion_check": lesion_check,
                "accept_any_image": accept_any_image}
    journal = Journal(out_csv.with_suffix(".jsonl"), settings)
    resuming = journal.path.exists() and not overwrite
    if not resuming:
        refuse_earlier_outputs(out_csv.parent, [out_csv.name, out_csv.with_suffix(".json").name], overwrite=overwrite)
    journal.resume(overwrite=not resuming)
    ids = output_ids(files)
    todo = [f for f in files if not journal.is_done(f)]
    check = (LesionCheck.for_classifier(classifier, lesion_check, accept_any_image=accept_any_image, threads=threads)
             if todo and not cluster else None)
    failed: list[tuple[str, str]] = [(s["path"], s["error"]) for s in skipped or []]
    min_side = max(640, 4 * classifier.pipeline.size)
    columns = ["image_id", "image_kind", "image_kind_score", "predicted",
               *(f"prob_{n}" for n in classifier.class_names), "prediction_set", "triage", "path", "warning"]
    table = StreamedTable(out_csv, columns, (_csv_row(r, len(classifier.class_names)) for r in journal.rows()))
    if cluster:
        from dermaseg.classify.cluster import results

        stream = results(cluster, todo, ids, min_side,
                         dict(remote or {}, lesion_check=lesion_check, accept_any_image=accept_any_image), chunk)
    else:
        stream = _local_rows(classifier, check, todo, ids, min_side, chunk, progress)
    try:
        for path, row, error in stream:
            if error is not None:
                failed.append((str(path), error))
                print(f"dermaseg: skipped {path}: {error}", file=sys.stderr)
                continue
            if row.get("not_done"):
                print(f"dermaseg: not classified {path}: {row['not_done']}", file=sys.stderr)
            elif row["warning"]:
                print(f"dermaseg: warning: {path}: {row['warning']}", file=sys.stderr)
            journal.record(path, row)
            table.append([_csv_row(row, len(classifier.class_names))])
    finally:
        table.close()
        journal.close()
        order = [ids[f] for f in files]
        # the rows are read back from the journal one at a time: memory stays flat on any archive
        StreamedTable.write(out_csv, columns, (_csv_row(r, len(classifier.class_names)) for r in journal.rows(order)))
        counts: dict[str, int] = {}
        written, flagged, not_done = 0, 0, []
        for r in journal.rows(order):
            written += 1
            if r["predicted"]:
                counts[r["predicted"]] = counts.get(r["predicted"], 0) + 1
            flagged += bool(r["warning"]) and not r.get("not_done")
            if r.get("not_done"):
                not_done.append((r["path"], r["not_done"]))
        summary = {"model": settings["model"], "runtime": settings["runtime"], "written": written,
                   "done_before": len(files) - len(todo), "flagged": flagged,
                   "failed": [{"path": f, "error": e} for f, e in failed],
                   "not_done": [{"path": f, "reason": e} for f, e in not_done], "ignored": list(ignored or []),
                   "csv": str(out_csv)}
        with atomic_open(out_csv.with_suffix(".json")) as out:
            json.dump(summary, out, indent=2)
    return {"written": written, "failed": failed, "not_done": not_done, "flagged": flagged, "csv": str(out_csv),
            "predicted": counts, "done_before": len(files) - len(todo)}


def _local_rows(classifier, check, todo: list[Path], ids: dict, min_side: int, chunk: int, progress: bool):
    for start in range(0, len(todo), chunk):
        yield from classify_chunk(classifier, check, todo[start:start + chunk], ids, min_side)
        if progress and len(todo) > chunk:
            print(f"classified {min(start + chunk, len(todo))}/{len(todo)}", file=sys.stderr)


def _csv_row(row: dict, n_classes: int) -> list:
    from dermaseg.core.files import spreadsheet_text

    probabilities = row["probabilities"] or [""] * n_classes
    return [spreadsheet_text(row["image_id"]), row.get("image_kind", ""), row.get("image_kind_score", ""),
            row["predicted"], *(f"{v:.6f}" if v != "" else "" for v in probabilities),
            ";".join(row.get("prediction_set") or []), row.get("triage", ""),
            spreadsheet_text(row["path"]), spreadsheet_text(row["warning"])]
