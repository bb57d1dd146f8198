"""Result files, written so that nothing is ever half there: every file goes to a temporary
name in its folder and is renamed into place when complete, so a full disk, a kill or a crash
leaves the earlier version (or nothing), never a truncated file. A failed write raises
`OutputError` naming the file. Also: a JSON document and its markdown table side by side, and
CSV text cells a spreadsheet will not run as formulas."""

from __future__ import annotations

import contextlib
import csv
import errno as errnos
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dermaseg.core.errors import UserError

# Text files dermaseg writes are UTF-8; a file name that is not (bytes from an old archive,
# carried by Python as surrogate escapes) is written as its \udcXX escape, not refused.
TEXT_ERRORS = "backslashreplace"
TEMP_SUFFIX = ".dermaseg-tmp"
# Temporary files are made private (0600); the finished file gets the usual permissions.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class OutputError(UserError, OSError):
    """An output file could not be written (disk full, no permission, ...): names the file."""

    def __init__(self, path: Path | str, exc: OSError):
        reason = exc.strerror or errnos.errorcode.get(exc.errno or 0, "") or str(exc)
        super().__init__(f"{path}: could not write it ({reason})")
        self.errno, self.path = exc.errno, Path(path)


def write_bytes(path: Path | str, data: bytes) -> Path:
    """`data` into `path`, atomically; OutputError naming the file if it fails."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "w", **kwargs) -> Iterator[io.IOBase]:
    """open() for writing, into a temporary file beside `path` renamed over it when the block
    ends without error. Text mode is UTF-8 (TEXT_ERRORS for undecodable names) unless told."""
    path = Path(path)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
        kwargs.setdefault("errors", TEXT_ERRORS)
    fd, tmp = -1, None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{_ascii(path.name)}.", suffix=TEMP_SUFFIX, dir=path.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, mode, **kwargs) as fh:
            fd = -1
            yield fh
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(path, exc) from None
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def remove_stale_temporaries(folder: Path | str) -> int:
    """Delete the temporary files a killed run left in `folder` (a SIGKILL skips every clean-up);
    returns how many. Only names atomic_open makes: `.<name>.<random>.dermaseg-tmp`."""
    removed = 0
    for stale in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            stale.unlink()
            removed += 1
    return removed


def _ascii(name: str) -> str:
    return name.encode("ascii", "replace").decode()[:60]


def write_json_and_markdown(out_dir: Path | str, stem: str, document: dict, table: str) -> None:
    """`<stem>.json` (the document) and `<stem>.md` (the table) in `out_dir`, created if needed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_open(out_dir / f"{stem}.json") as fh:
        fh.write(json.dumps(document, indent=2))
    with atomic_open(out_dir / f"{stem}.md") as fh:
        fh.write(table)


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP
# "CSV injection"); file names are the user's and can start with anything.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value):
    """`value` for a CSV cell: text that a spreadsheet would run as a formula gets a leading
    apostrophe (shown as text, the apostrophe hidden); numbers and other text pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def refuse_earlier_outputs(out_dir: Path, names, *, overwrite: bool) -> None:
    """ValueError when `out_dir` already holds any of `names` (files this run would write, or an
    earlier run's result files), unless `overwrite`: a user's files and an earlier run are never
    replaced without being asked."""
    present = [n for n in names if (out_dir / n).exists() or (out_dir / n).is_symlink()]
    if present and not overwrite:
        shown = ", ".join(present[:3]) + (f" and {len(present) - 3} more" if len(present) > 3 else "")
        raise ValueError(f"{out_dir}: already holds {shown}: choose another --out, or add --overwrite "
                         "to replace what is there")


class StreamedTable:
    """A CSV results table that streams: written whole (atomically) with the rows known so far,
    then appended and flushed row by row as results finish, and written whole again at the end
    (`write`), so that every row is listed once and a kill leaves at most the row in flight out."""

    def __init__(self, path: Path | str, header: list[str], rows=()):
        self.path = Path(path)
        StreamedTable.write(self.path, header, rows)
        try:
            self._fh = open(self.path, "a", newline="", encoding="utf-8", errors=TEXT_ERRORS)
        except OSError as exc:
            raise OutputError(self.path, exc) from None
        self._writer = csv.writer(self._fh)

    def append(self, rows) -> None:
        try:
            self._writer.writerows(rows)
            self._fh.flush()
        except OSError as exc:
            raise OutputError(self.path, exc) from None

    def close(self) -> None:
        self._fh.close()

    @staticmethod
    def write(path: Path | str, header: list[str], rows) -> None:
        with atomic_open(path, newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
