"""`SegmentationDataset`: prepared images and masks for training, cached once, augmented per epoch.

Decoding a JPEG and preprocessing it costs far more than augmenting a 256x256 array, and the
same files are read every epoch: so every image is decoded, preprocessed and resized once
(in parallel when asked) into two uint8 arrays, optionally saved as .npy under `cache_dir`
keyed by the config and the files, and memory-mapped back on the next run. Augmentation
runs per item on the cached arrays with a generator derived from (seed, epoch, index), so a
batch is identical whatever the worker count or order.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
import warnings
from multiprocessing.context import get_spawning_popen
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from dermaseg.core.cache import file_signature
from dermaseg.data.quality import DataQualityWarning
from dermaseg.data.readers import LesionDataset
from dermaseg.transforms.augment import augment_sample, build_augment
from dermaseg.transforms.pipeline import PipelineConfig, normalise_image, prepare_record


class _PrepareAll(Dataset):
    """Worker-side view used only to build the cache in parallel."""

    def __init__(self, dataset: LesionDataset, image_ids: list[str], config: PipelineConfig):
        self.dataset, self.image_ids, self.config = dataset, image_ids, config

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, i: int):
        return (i, *prepare_record(self.dataset, self.image_ids[i], self.config))


def _keep(batch):
    return batch


def cache_key(dataset: LesionDataset, image_ids: list[str], config: PipelineConfig) -> str:
    """Changes when the prepare settings or any file (path, size, modification time) changes."""
    h = hashlib.sha256(config.prepare_key().encode())
    for image_id in image_ids:
        record = dataset.record(image_id)
        h.update(json.dumps([image_id, file_signature(record.image_path),
                             file_signature(record.mask_path)]).encode())
    return h.hexdigest()[:20]


def build_cache(dataset: LesionDataset, image_ids: list[str], config: PipelineConfig, workers: int = 0):
    """Decode, preprocess and resize every id once: (images (N,S,S,3), masks (N,S,S), ids, messages)."""
    n, s = len(image_ids), config.size
    images = np.empty((n, s, s, 3), np.uint8)
    masks = np.empty((n, s, s), np.uint8)
    usable = np.zeros(n, bool)
    messages: list[str] = []
    loader = DataLoader(_PrepareAll(dataset, image_ids, config), batch_size=None, shuffle=False,
                        num_workers=workers, collate_fn=_keep)
    for i, image, mask, msgs in loader:
        messages += msgs
        if image is not None:
            images[i], masks[i], usable[i] = image, mask, True
    if not usable.all():
        images, masks = images[usable], masks[usable]
    ids = [image_id for image_id, ok in zip(image_ids, usable) if ok]
    return images, masks, ids, messages


def _save_cache(folder: Path, images, masks, ids, messages, config: PipelineConfig) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        np.save(tmp / "images.npy", images)
        np.save(tmp / "masks.npy", masks)
        (tmp / "index.json").write_text(json.dumps({"image_ids": ids, "skipped": messages,
                                                   "config": config.to_dict()}, indent=1))
        os.replace(tmp, folder)  # atomic: a reader never sees a half-written cache
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (folder / "index.json").exists():
            raise


def _load_cache(folder: Path):
    index = json.loads((folder / "index.json").read_text())
    images = np.load(folder / "images.npy", mmap_mode="r")
    masks = np.load(folder / "masks.npy", mmap_mode="r")
    if len(images) != len(index["image_ids"]) or len(masks) != len(images):
        raise ValueError(f"{folder}: cache arrays and index disagree; delete the folder to rebuild")
    return images, masks, index["image_ids"], index["skipped"]


class SegmentationDataset(Dataset):
    """Image/mask pairs as model tensors: {"image": (3,S,S) float32, "mask": (1,S,S) {0,1}, "image_id"}.

    train=False never augments (validation, test). With `cache` (default) everything is
    prepared once at construction, using `workers` processes, and kept in memory, or under
    `cache_dir` as memory-mapped .npy files reused across runs. Unusable files are reported
    with DataQualityWarning and left out of `image_ids`. Call `set_epoch(e)` at the start of
    each epoch: augmentation depends only on (seed, epoch, index), and the epoch is shared
    memory, so persistent DataLoader workers see it too.
    """

    def __init__(self, dataset: LesionDataset, image_ids: list[str], config: PipelineConfig, train: bool,
                 seed: int = 0, cache: bool = True, *, cache_dir: str | Path | None = None, workers: int = 0):
        known = {r.image_id for r in dataset.records}
        missing = [i for i in image_ids if i not in known]
        if missing:
            raise ValueError(f"{len(missing)} image id(s) are not in the dataset, e.g. {missing[:5]}")
        self.dataset = dataset
        self.config = config
        self.train = bool(train)
        self.seed = int(seed)
        self.cache = bool(cache)
        self.cache_path: Path | None = None
        self.skipped: list[str] = []
        self._epoch = multiprocessing.RawValue("q", 0)
        # Validation and test never see augmentation, whatever the config holds.
        self._augment = build_augment(config.augment, seed) if self.train and config.augment else None
        self._images = self._masks = None
        if self.cache:
            self._build(list(image_ids), cache_dir, workers)
        else:
            self.image_ids = list(image_ids)
            self._bad: set[str] = set()

    # --- cache --------------------------------------------------------------------------
    def _build(self, image_ids: list[str], cache_dir, workers: int) -> None:
        if cache_dir is not None:
            self.cache_path = Path(cache_dir) / cache_key(self.dataset, image_ids, self.config)
            if (self.cache_path / "index.json").exists():
                self._images, self._masks, self.image_ids, self.skipped = _load_cache(self.cache_path)
                self._warn(self.skipped)
                return
        images, masks, ids, messages = build_cache(self.dataset, image_ids, self.config, workers)
        self._warn(messages)
        if self.cache_path is not None:
            _save_cache(self.cache_path, images, masks, ids, messages, self.config)
        self._images, self._masks, self.image_ids, self.skipped = images, masks, ids, messages

    @staticmethod
    def _warn(messages: list[str]) -> None:
        for message in messages:  # never silently dropped, also when read back from disk
            warnings.warn(message, DataQualityWarning, stacklevel=4)

    # --- epochs -------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        self._epoch.value = int(epoch)

    @property
    def epoch(self) -> int:
        return int(self._epoch.value)

    def __getstate__(self):
        state = self.__dict__.copy()
        if get_spawning_popen() is None:  # plain pickle/deepcopy: shared memory cannot travel
            state["_epoch"] = int(self._epoch.value)
        return state

    def __setstate__(self, state):
        if isinstance(state["_epoch"], int):
            value, state["_epoch"] = state["_epoch"], multiprocessing.RawValue("q", 0)
            state["_epoch"].value = value
        self.__dict__.update(state)

    # --- items --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.image_ids)

    def prepared(self, i: int) -> tuple[np.ndarray, np.ndarray, str]:
        """Item `i` preprocessed and resized, before augmentation: uint8 image, {0,255} mask, id."""
        if self.cache:
            return np.array(self._images[i]), np.array(self._masks[i]), self.image_ids[i]
        # Uncached: decode now; a bad file is reported once and its slot served by the next
        # usable file, so an epoch never dies halfway.
        for step in range(len(self.image_ids)):
            image_id = self.image_ids[(i + step) % len(self.image_ids)]
            if image_id in self._bad:
                continue
            image, mask, messages = prepare_record(self.dataset, image_id, self.config)
            for message in messages:
                warnings.warn(message, DataQualityWarning, stacklevel=3)
            if image is not None:
                return image, mask, image_id
            self._bad.add(image_id)
        raise RuntimeError("no usable image/mask pair left in this dataset")

    def sample_uint8(self, i: int, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
        """Item `i` as uint8 image (S,S,3) and {0,255} mask (S,S), augmented if training."""
        image, mask, image_id = self.prepared(i)
        if self._augment is not None:
            image, mask = augment_sample(self._augment, image, mask, self.seed, self.epoch if epoch is None else epoch, i)
        return image, mask, image_id

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        image, mask, image_id = self.sample_uint8(i)
        return {
            "image": torch.from_numpy(normalise_image(image, self.config.normalise)),
            "mask": torch.from_numpy((mask[None] >= 128).astype(np.float32)),
            "image_id": image_id,
        }


__all__ = ["SegmentationDataset", "build_cache", "cache_key"]
