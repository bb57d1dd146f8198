"""On-disk caches of decoded images and features: their keys and their atomic writes.

A cache entry is named by `digest` of everything that shaped it (settings, file list, version),
so a change to any of them makes a new entry instead of reading a stale one. Entries are written
to a temporary name and renamed into place: a reader (another run, a killed one) never sees half
of one. Used by the segmentation dataset cache, the classifier's image and feature caches and
the classical baselines' hand-crafted features.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from dermaseg.core.files import atomic_open


def user_cache_folder(name: str) -> Path | None:
    """$DERMASEG_CACHE/<name> (default ~/.cache/dermaseg/<name>), made if missing; None where it
    cannot be written (everything then works without the cache)."""
    folder = Path(os.environ.get("DERMASEG_CACHE") or Path.home() / ".cache" / "dermaseg") / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def digest(parts, length: int = 16) -> str:
    """A short, stable hex name for JSON-able `parts` (dict keys sorted)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:length]


def file_signature(path) -> list:
    """[path, size, modification time]: changes when the file is replaced or edited."""
    try:
        st = os.stat(path)
        return [str(path), st.st_size, st.st_mtime_ns]
    except (OSError, TypeError):
        return [str(path), None, None]


def save_array(path: Path | str, array: np.ndarray) -> Path:
    """np.save, atomically (dermaseg.core.files)."""
    with atomic_open(path, "wb") as fh:
        np.save(fh, array)
    return Path(path)


def save_arrays(path: Path | str, **arrays: np.ndarray) -> Path:
    """np.savez of several arrays (`path` ends in .npz), atomically."""
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)
