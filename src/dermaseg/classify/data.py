"""Decoded, resized training images held in memory (uint8), cached on disk between runs.

Every image goes through `dermaseg.transforms.pipeline.prepare` (the same code inference
uses), optionally after cropping to the lesion, once; each epoch then costs only the network.
The cache file is keyed by the image list, the pipeline settings and the crop, so a change
to any of them builds a new one. Unreadable files are reported and left out, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from dermaseg.core.cache import digest, save_array
from dermaseg.data.readers import LesionDataset, Record
from dermaseg.transforms.pipeline import PipelineConfig, prepare


def _records_key(records: list[Record]) -> str:
    h = hashlib.sha256()
    for r in records:
        try:
            size = r.image_path.stat().st_size
        except OSError:
            size = -1
        h.update(f"{r.image_id}|{r.image_path}|{size}\n".encode())
    return h.hexdigest()[:16]


def cache_key(records: list[Record], pipe: PipelineConfig, crop: dict | None) -> str:
    return digest({"records": _records_key(records), "pipeline": pipe.prepare_key(), "crop": crop or {"mode": "none"}})


def load_images(dataset: LesionDataset, records: list[Record], pipe: PipelineConfig, *, cropper=None,
                cache_dir: Path | str | None = None, progress: bool = True) -> tuple[list[str], np.ndarray, str]:
    """(image ids that decoded, uint8 array (N, S, S, 3), cache key)."""
    crop = cropper.describe() if cropper is not None else None
    key = cache_key(records, pipe, crop)
    if cache_dir is not None:
        folder = Path(cache_dir) / "images"
        data_path, ids_path = folder / f"{key}.npy", folder / f"{key}.ids.json"
        if data_path.is_file() and ids_path.is_file():
            return json.loads(ids_path.read_text()), np.load(data_path, mmap_mode="r"), key
    ids, arrays = [], []
    iterator = records
    if progress:
        from tqdm import tqdm

        iterator = tqdm(records, desc="decoding images", unit="img", mininterval=5)
    for record in iterator:
        sample = dataset.try_load(record)   # warns (DataQualityWarning) and returns None on bad files
        if sample is None:
            continue
        image = sample.image
        if cropper is not None:
            try:
                image = cropper(image, sample.mask)
            except ValueError as exc:
                warnings.warn(f"{record.image_path}: crop failed ({exc}); using the whole image", stacklevel=2)
        prepared, _, _ = prepare(image, pipe)
        ids.append(record.image_id)
        arrays.append(prepared)
    if not arrays:
        raise ValueError("no readable images among the records")
    images = np.stack(arrays)
    if cache_dir is not None:
        folder.mkdir(parents=True, exist_ok=True)
        save_array(data_path, images)
        ids_path.write_text(json.dumps(ids))
    return ids, images, key


# --- dihedral views: dermoscopy has no canonical orientation ------------------------------------

def dihedral(image: np.ndarray, k: int) -> np.ndarray:
    """The k-th (0..7) flip/rotation of an (..., H, W, C) or (H, W) square array; 0 is the identity."""
    k = int(k) % 8
    h_axis, w_axis = (-3, -2) if image.ndim >= 3 else (-2, -1)
    out = image
    if k & 4:
        out = np.swapaxes(out, h_axis, w_axis)
    if k & 1:
        out = np.flip(out, axis=w_axis)
    if k & 2:
        out = np.flip(out, axis=h_axis)
    return out


def dihedral_chw(batch, k: int):
    """The same view for (..., C, H, W) tensors/arrays (numpy or torch)."""
    k = int(k) % 8
    out = batch
    if k & 4:
        out = out.transpose(-2, -1) if hasattr(out, "transpose") and not isinstance(out, np.ndarray) \
            else np.swapaxes(out, -2, -1)
    if k & 1:
        out = out.flip(-1) if not isinstance(out, np.ndarray) else np.flip(out, -1)
    if k & 2:
        out = out.flip(-2) if not isinstance(out, np.ndarray) else np.flip(out, -2)
    return out
