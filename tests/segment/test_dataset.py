"""The segmentation training dataset: never augments validation, seeded batches, bad files reported."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install

from support import ISIC2017, ISIC_IMAGES, ISIC_MASKS, needs_isic2017

from dermaseg.data import DataQualityWarning, open_dataset
from dermaseg.segment.dataset import SegmentationDataset
from dermaseg.transforms.pipeline import (
    DEFAULT_AUGMENT,
    PipelineConfig,
    normalise_image,
    prepare,
)


@pytest.fixture(scope="module")
def isic():
    if not ISIC_IMAGES.is_dir():
        pytest.skip("../shared/data/isic2017 not available")
    return open_dataset(ISIC2017)


@pytest.fixture(scope="module")
def train_ids(isic):
    return [r.image_id for r in isic.records[:16]]


def test_validation_and_test_items_are_never_augmented(isic, train_ids):
    config = PipelineConfig(size=128, augment=DEFAULT_AUGMENT)
    val = SegmentationDataset(isic, train_ids[:6], config, train=False, seed=0)
    train = SegmentationDataset(isic, train_ids[:6], config, train=True, seed=0)
    differ = 0
    for i in range(6):
        sample = isic.load(isic.record(val.image_ids[i]))
        plain, plain_mask, _ = prepare(sample.image, config, sample.mask)
        for epoch in (0, 1, 2):
            val.set_epoch(epoch)
            item = val[i]
            assert torch.equal(item["image"], torch.from_numpy(normalise_image(plain, "imagenet")))
            assert torch.equal(item["mask"][0], torch.from_numpy(plain_mask / 255.0).float())
        differ += not torch.equal(train[i]["image"], val[i]["image"])
    assert differ >= 5  # the same config does augment when train=True


def test_items_are_tensors_with_binary_masks(isic, train_ids):
    ds = SegmentationDataset(isic, train_ids[:4], PipelineConfig(size=64, augment=DEFAULT_AUGMENT), train=True)
    item = ds[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    assert item["mask"].shape == (1, 64, 64) and item["mask"].dtype == torch.float32
    assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
    assert item["image_id"] == train_ids[0]


def first_batches(ds, workers: int, batches: int = 2, persistent: bool = False):
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=False, num_workers=workers,
                                         persistent_workers=persistent)
    out = []
    for b, batch in enumerate(loader):
        out.append(batch)
        if b + 1 == batches:
            break
    return out


def test_same_seed_gives_identical_batches_with_and_without_workers(isic, train_ids):
    config = PipelineConfig(size=64, augment=DEFAULT_AUGMENT)
    ds = SegmentationDataset(isic, train_ids[:8], config, train=True, seed=11)
    ds.set_epoch(2)
    single = first_batches(ds, workers=0)
    twin = SegmentationDataset(isic, train_ids[:8], config, train=True, seed=11)  # a fresh instance
    twin.set_epoch(2)
    parallel = first_batches(twin, workers=2)
    assert len(single) == len(parallel) == 2
    for a, b in zip(single, parallel):
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
        assert a["image_id"] == b["image_id"]
    other_seed = SegmentationDataset(isic, train_ids[:8], config, train=True, seed=12)
    other_seed.set_epoch(2)
    assert not torch.equal(first_batches(other_seed, workers=0)[0]["image"], single[0]["image"])


def test_set_epoch_reaches_persistent_workers(isic, train_ids):
    config = PipelineConfig(size=64, augment=DEFAULT_AUGMENT)
    ds = SegmentationDataset(isic, train_ids[:4], config, train=True, seed=5)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=1, persistent_workers=True)
    ds.set_epoch(0)
    epoch0 = next(iter(loader))["image"]
    ds.set_epoch(1)
    epoch1 = next(iter(loader))["image"]
    assert not torch.equal(epoch0, epoch1)
    reference = SegmentationDataset(isic, train_ids[:4], config, train=True, seed=5)
    reference.set_epoch(1)
    assert torch.equal(epoch1, torch.stack([reference[i]["image"] for i in range(4)]))


def make_folder_dataset(root: Path, ids: list[str], corrupt: str | None = None, no_mask: str | None = None):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for image_id in ids:
        shutil.copy(ISIC_IMAGES / f"{image_id}.jpg", root / "images" / f"{image_id}.jpg")
        if image_id != no_mask:
            shutil.copy(ISIC_MASKS / f"{image_id}_segmentation.png", root / "masks" / f"{image_id}_segmentation.png")
    if corrupt:
        (root / "images" / f"{corrupt}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return open_dataset(root)


def quality_messages(caught) -> str:
    """The data-quality warnings only: a 1-core machine adds torch's DataLoader worker-count warning."""
    return "\n".join(str(w.message) for w in caught if issubclass(w.category, DataQualityWarning))


@needs_isic2017
def test_bad_files_are_reported_and_excluded_and_the_disk_cache_is_reused(tmp_path, train_ids):
    ids = train_ids[:5]
    ds = make_folder_dataset(tmp_path / "data", ids, corrupt=ids[1], no_mask=ids[3])
    config = PipelineConfig(size=64, hair_removal=True)
    with pytest.warns(DataQualityWarning) as caught:
        built = SegmentationDataset(ds, ids, config, train=False, cache_dir=tmp_path / "cache", workers=2)
    text = quality_messages(caught)
    assert f"{ids[1]}.jpg" in text and "unreadable" in text
    assert ids[3] in text and "missing_mask" in text
    assert built.image_ids == [ids[0], ids[2], ids[4]]
    assert (built.cache_path / "images.npy").exists()
    # Second run reads the .npy files back, and still names the skipped files.
    with pytest.warns(DataQualityWarning) as caught:
        reused = SegmentationDataset(ds, ids, config, train=False, cache_dir=tmp_path / "cache")
    assert quality_messages(caught) == text
    assert reused.image_ids == built.image_ids
    assert isinstance(reused._images, np.memmap)
    for i in range(len(reused)):
        assert torch.equal(reused[i]["image"], built[i]["image"])
    # A different preprocessing config gets its own cache.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        other = SegmentationDataset(ds, ids, PipelineConfig(size=64), train=False, cache_dir=tmp_path / "cache")
    assert other.cache_path != built.cache_path


@needs_isic2017
def test_uncached_dataset_skips_a_bad_file_without_crashing(tmp_path, train_ids):
    ids = train_ids[:3]
    ds = make_folder_dataset(tmp_path / "data", ids, corrupt=ids[1])
    lazy = SegmentationDataset(ds, ids, PipelineConfig(size=64), train=False, cache=False)
    with pytest.warns(DataQualityWarning, match=f"{ids[1]}.jpg"):
        item = lazy[1]
    assert item["image_id"] == ids[2]
