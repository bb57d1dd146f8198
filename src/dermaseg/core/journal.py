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
import os
from pathlib import Path

from dermaseg.core.cache import file_signature
from dermaseg.core.files import OutputError, remove_stale_temporaries


class Journal:
    """Memory stays flat however many inputs a run has: only each finished input's signature and
    the position of its line in the file are kept; rows are read back from disk when asked for."""

    def __init__(self, path: Path | str, settings: dict):
        self.path = Path(path)
        self.settings = json.loads(json.dumps(settings))   # as it reads back
        self.done: set[tuple] = set()                        # signatures of finished inputs
        self._lines: dict[str, int] = {}                     # image id -> byte offset of its latest row
        self._fh = None
        self._size = 0

    def resume(self, *, overwrite: bool) -> int:
        """How many inputs an earlier run of this one finished (0 when starting afresh);
        ValueError if the folder holds a run with other settings and not `overwrite`. With
        `overwrite` the journal starts empty."""
        remove_stale_temporaries(self.path.parent)   # half-written files of a killed run
        self.done, self._lines = set(), {}
        if overwrite or not self.path.exists():
            self._start([])
            return 0
        settings = _read_settings(self.path)
        if settings != self.settings:
            changed = sorted(k for k in set(settings or {}) | set(self.settings)
                             if (settings or {}).get(k) != self.settings.get(k))
            raise ValueError(f"{self.path.parent}: holds a run with other settings ({', '.join(changed)}); "
                             "run it with the same ones to go on, or add --overwrite to start afresh")
        self._start(_records(self.path))
        return len(self.done)

    def is_done(self, path: Path | str) -> bool:
        return signature(path) in self.done

    def record(self, path: Path | str, row: dict) -> None:
        """Append one finished input and flush: it survives a kill from here on."""
        sig = signature(path)
        try:
            self._append({"source": list(sig), "row": row})
            self._fh.flush()
        except OSError as exc:
            raise OutputError(self.path, exc) from None

    def rows(self, order: list[str] | None = None):
        """The finished rows, read back from the file one at a time: one row per image id (the
        latest); with `order` (image ids, the inputs' order) in that order, rows of other ids after."""
        ids = list(self._lines)
        if order is not None:
            rank = {image_id: i for i, image_id in enumerate(order)}
            ids.sort(key=lambda i: rank.get(i, len(rank)))
        with open(self.path, "rb") as fh:
            for image_id in ids:
                fh.seek(self._lines[image_id])
                yield json.loads(fh.readline())["row"]

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _start(self, records) -> None:
        """(Re)write the journal whole, without a torn last line, and keep it open for appending."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self._fh, self._size = open(tmp, "wb"), 0
            self._append({"settings": self.settings})
            for record in records:
                self._append(record)
            self._fh.close()
            os.replace(tmp, self.path)
            self._fh = open(self.path, "ab")
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(self.path, exc) from None

    def _append(self, record: dict) -> None:
        line = (json.dumps(record) + "\n").encode("utf-8")
        if "row" in record:
            self.done.add(tuple(record["source"]))
            self._lines[record["row"]["image_id"]] = self._size
        self._fh.write(line)
        self._size += len(line)


def signature(path: Path | str) -> tuple:
    return tuple(file_signature(path))


def _read_settings(path: Path) -> dict | None:
    with open(path, encoding="utf-8", errors="replace") as fh:
        try:
            record = json.loads(fh.readline())
        except ValueError:
            return None
    return record.get("settings") if isinstance(record, dict) else None


def _records(path: Path):
    """The finished inputs' records of a journal, one at a time (a line torn by a kill is skipped:
    that input is done again)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        next(fh, None)   # the settings
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "source" in record and isinstance(record.get("row"), dict):
                yield record


def read_rows(path: Path | str):
    """The rows of a journal file, one at a time, without opening it as a run (e.g. to clean up
    after a run that was killed before it wrote its results)."""
    for record in _records(Path(path)):
        yield record["row"]
