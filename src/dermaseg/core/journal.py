"""A batch run's progress on disk, so that a stopped run goes on where it stopped.

`<name>.jsonl` beside the results holds one JSON line per finished input: its source file's
signature (path, size, modification time: a file replaced or edited since counts as new) and
its result row. The first line holds the run's settings. Lines are appended and flushed as
inputs finish, so a kill (even SIGKILL) loses at most the inputs in flight; a torn last line is
ignored on reading. Running the same command again on the same output folder skips the inputs
the journal lists; other settings are refused unless the caller starts afresh (--overwrite).
"""

from __future__ import annotations

import json
from pathlib import Path

from dermaseg.core.cache import file_signature
from dermaseg.core.files import TEXT_ERRORS, OutputError, atomic_open, remove_stale_temporaries


class Journal:
    def __init__(self, path: Path | str, settings: dict):
        self.path = Path(path)
        self.settings = json.loads(json.dumps(settings))   # as it reads back
        self.done: dict[tuple, dict] = {}                    # signature -> result row
        self._fh = None

    def resume(self, *, overwrite: bool) -> dict[tuple, dict]:
        """Earlier results of this run (signature -> row); ValueError if the folder holds a run
        with other settings and not `overwrite`. With `overwrite` the journal starts empty."""
        remove_stale_temporaries(self.path.parent)   # half-written files of a killed run
        if overwrite or not self.path.exists():
            self.done = {}
            self._start()
            return self.done
        settings, rows = _read(self.path)
        if settings != self.settings:
            changed = sorted(k for k in set(settings or {}) | set(self.settings)
                             if (settings or {}).get(k) != self.settings.get(k))
            raise ValueError(f"{self.path.parent}: holds a run with other settings ({', '.join(changed)}); "
                             "run it with the same ones to go on, or add --overwrite to start afresh")
        self.done = {tuple(r["source"]): r["row"] for r in rows}
        self._start(rows)
        return self.done

    def is_done(self, path: Path | str) -> bool:
        return signature(path) in self.done

    def record(self, path: Path | str, row: dict) -> None:
        """Append one finished input and flush: it survives a kill from here on."""
        sig = signature(path)
        self.done[sig] = row
        try:
            self._fh.write(json.dumps({"source": list(sig), "row": row}) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise OutputError(self.path, exc) from None

    def rows(self, order: list[str] | None = None) -> list[dict]:
        """The finished rows; with `order` (image ids, the inputs' order), one row per image id
        (the latest) in that order, rows of other ids after them."""
        if order is None:
            return list(self.done.values())
        by_id = {row["image_id"]: row for row in self.done.values()}
        rank = {image_id: i for i, image_id in enumerate(order)}
        return sorted(by_id.values(), key=lambda row: rank.get(row["image_id"], len(rank)))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _start(self, rows: list[dict] = ()) -> None:
        """(Re)write the journal whole, without a torn last line, and keep it open for appending."""
        with atomic_open(self.path) as fh:
            fh.write(json.dumps({"settings": self.settings}) + "\n")
            for r in rows:
                fh.write(json.dumps(r) + "\n")
        try:
            self._fh = open(self.path, "a", encoding="utf-8", errors=TEXT_ERRORS)
        except OSError as exc:
            raise OutputError(self.path, exc) from None


def signature(path: Path | str) -> tuple:
    return tuple(file_signature(path))


def _read(path: Path) -> tuple[dict | None, list[dict]]:
    settings, rows = None, []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh):
            try:
                record = json.loads(line)
            except ValueError:
                continue                     # a line torn by a kill: that input is done again
            if n == 0 and "settings" in record:
                settings = record["settings"]
            elif isinstance(record, dict) and "source" in record and "row" in record:
                rows.append(record)
    return settings, rows
