"""What a command line names: files, folders and glob patterns gathered into the images to
process, every other entry listed with its reason; and the output folder, proved writable
before any work starts. Both tasks' batch commands share them."""

from __future__ import annotations

import glob
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dermaseg.data.io import path_problem, scan_folder


@dataclass
class Inputs:
    """What the command line named: files to process, entries skipped (with why), entries ignored."""

    files: list[Path] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)    # {"path", "error"}: counted as not done
    ignored: list[dict] = field(default_factory=list)    # {"path", "reason"}: not images (notes, CSVs)


def _has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def gather_inputs(paths: list[str]) -> Inputs:
    """Files, folders (their images, sorted) and glob patterns -> unique files, in order,
    with every entry that is not processed listed with its reason."""
    out = Inputs()
    for text in paths:
        p = Path(text)
        if p.is_dir():
            listing = scan_folder(p)
            out.files += listing.images
            out.skipped += [{"path": str(f), "error": why} for f, why in listing.skipped]
            out.ignored += [{"path": str(f), "reason": why} for f, why in listing.ignored]
        elif p.is_file():
            out.files.append(p)
        elif p.is_symlink() or not _has_glob(text):
            out.skipped.append({"path": text, "error": path_problem(p) or "not a file or folder"})
        else:
            matched = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
            out.files += matched
            if not matched:
                out.skipped.append({"path": text, "error": "no file matches this pattern"})
    first: dict[Path, Path] = {}
    unique = []
    for f in out.files:
        real = f.resolve()
        if real in first:  # a link to (or a second name of) a file already listed: done once
            out.ignored.append({"path": str(f), "reason": f"the same file as {first[real]}, done once"})
            continue
        first[real] = f
        unique.append(f)
    out.files = unique
    if not out.files and not out.skipped:
        raise ValueError("no input images found in " + ", ".join(paths))
    return out


def report_inputs(inputs: Inputs) -> None:
    """One line per skipped entry, one line for the ignored ones, on stderr."""
    for s in inputs.skipped:
        print(f"dermaseg: skipped {s['path']}: {s['error']}", file=sys.stderr)
    if inputs.ignored:
        shown = "; ".join(f"{Path(i['path']).name} ({i['reason']})" for i in inputs.ignored[:5])
        more = f"; and {len(inputs.ignored) - 5} more (listed in the run's JSON)" if len(inputs.ignored) > 5 else ""
        print(f"dermaseg: ignored {len(inputs.ignored)} entr{'y' if len(inputs.ignored) == 1 else 'ies'}: "
              f"{shown}{more}", file=sys.stderr)


def collect_inputs(paths: list[str]) -> list[Path]:
    """The files of gather_inputs(), problems reported on stderr; ValueError if none at all."""
    inputs = gather_inputs(paths)
    report_inputs(inputs)
    if not inputs.files:
        raise ValueError("no readable input images in " + ", ".join(paths))
    return inputs.files


def prepare_output_dir(path: Path | str) -> Path:
    """Create the output folder and prove it is writable, before any work starts; one-line ValueError."""
    path = Path(path)
    existing = next((p for p in (path, *path.parents) if p.exists() or p.is_symlink()), None)
    if existing is not None and not existing.is_dir():
        where = "is a file" if existing == path else f"lies under {existing}, which is a file"
        raise ValueError(f"{path}: cannot write output there: it {where}, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ValueError(f"{path}: output folder is not writable ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: output folder is not writable (permission denied)")
    return path


def output_ids(files: list[Path]) -> dict[Path, str]:
    """Each input's image id, the stem of its output files: the file name without its extension.

    Where inputs would share an id (the same stem with two extensions, the same name in two
    folders; compared case-blind, as some file systems are), each of them gets instead its path
    from their common folder, folders joined by "__" and the extension after "_":
    clinicA/IMG_0001.jpg -> clinicA__IMG_0001_jpg, lesion7.png -> lesion7_png. An id still taken
    gets "_2", "_3", ... So no output ever overwrites another.
    """
    stems = Counter(f.stem.casefold() for f in files)
    clashing = [f for f in files if stems[f.stem.casefold()] > 1]
    ids = {f: f.stem for f in files}
    if clashing:
        root = Path(os.path.commonpath([str(f.absolute().parent) for f in clashing]))
        for f in clashing:
            rel = f.absolute().relative_to(root)
            name = f"{rel.stem}_{rel.suffix[1:]}" if rel.suffix else rel.stem
            ids[f] = "__".join((*rel.parent.parts, name))
    taken: Counter = Counter()
    for f in files:
        key = ids[f].casefold()
        taken[key] += 1
        if taken[key] > 1:
            while f"{ids[f]}_{taken[key]}".casefold() in taken:
                taken[key] += 1
            ids[f] = f"{ids[f]}_{taken[key]}"
            taken[ids[f].casefold()] += 1
    return ids
