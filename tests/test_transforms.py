"""Preprocessing, resizing, augmentation and the training dataset."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
import yaml
from PIL import Image

from dermaseg.data import DataQualityWarning, open_dataset
from dermaseg.data.io import read_image, read_mask
from dermaseg.transforms.augment import apply, build_augment, reseed
from dermaseg.transforms.dataset import SegmentationDataset
from dermaseg.transforms.pipeline import (
    DEFAULT_AUGMENT,
    PipelineConfig,
    normalise_image,
    prepare,
    preprocess,
    restore_size,
    to_model_input,
)
from dermaseg.transforms.preprocess import clahe_lab, remove_hair, shades_of_gray, sigmoid_contrast

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
ISIC2017 = DATA / "isic2017"
ISIC_IMAGES = ISIC2017 / "ISIC-2017_Training_Data"
ISIC_MASKS = ISIC2017 / "ISIC-2017_Training_Part1_GroundTruth"
needs_data = pytest.mark.skipif(not ISIC_IMAGES.is_dir(), reason="../shared/data/isic2017 not available")

# --- a synthetic lesion whose shape is known analytically -------------------------------

SIZE = 256
CX, CY, AX, AY, TILT = 140.0, 112.0, 62.0, 34.0, math.radians(25)  # ellipse, off-centre, tilted
SKIN, LESION = (205, 165, 150), (80, 45, 35)


def inside_ellipse(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The analytic lesion: True where (x, y) (pixel centres, any float) lies in the ellipse."""
    dx, dy = x - CX, y - CY
    u = dx * math.cos(TILT) + dy * math.sin(TILT)
    v = -dx * math.sin(TILT) + dy * math.cos(TILT)
    return (u / AX) ** 2 + (v / AY) ** 2 <= 1.0


def grid(h=SIZE, w=SIZE):
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return xs, ys


def synthetic_pair():
    xs, ys = grid()
    mask = np.where(inside_ellipse(xs, ys), 255, 0).astype(np.uint8)
    image = np.empty((SIZE, SIZE, 3), np.uint8)
    image[:] = SKIN
    image[mask > 0] = LESION
    return image, mask


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return float((a & b).sum() / max((a | b).sum(), 1))


def augment_once(spec: dict, image, mask, index=0):
    compose = build_augment(spec, seed=0)
    reseed(compose, 0, 0, index)
    return apply(compose, image, mask)


def dark(image: np.ndarray) -> np.ndarray:
    """The lesion as seen in the image: clearly darker than skin (geometric tests fill with skin)."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) < 128


# --- augmentation keeps image and mask aligned -------------------------------------------

C = (SIZE - 1) / 2.0  # albumentations rotates/shears about the pixel-centre of the image


def test_rotation_moves_mask_onto_the_analytically_rotated_shape():
    image, mask = synthetic_pair()
    theta = math.radians(37)
    out_image, out_mask = augment_once({"rotate": {"p": 1.0, "limit": [37, 37], "fill": SKIN}}, image, mask)
    # Counter-clockwise on screen (y down): source point = inverse rotation of the output pixel.
    xs, ys = grid()
    sx = C + (xs - C) * math.cos(theta) - (ys - C) * math.sin(theta)
    sy = C + (xs - C) * math.sin(theta) + (ys - C) * math.cos(theta)
    expected = inside_ellipse(sx, sy)
    assert iou(out_mask, expected) > 0.95
    assert iou(out_mask, dark(out_image)) > 0.95
    assert iou(out_mask, mask) < 0.6  # it really moved: the check above could fail


def test_shear_moves_mask_onto_the_analytically_sheared_shape():
    image, mask = synthetic_pair()
    spec = {"shear": {"p": 1.0, "shear": {"x": [18, 18], "y": [0, 0]}, "fill": SKIN}}
    out_image, out_mask = augment_once(spec, image, mask)
    xs, ys = grid()
    sx = xs + math.tan(math.radians(18)) * (ys - C)  # x' = x - tan(a) (y - c), inverted
    expected = inside_ellipse(sx, ys)
    assert iou(out_mask, expected) > 0.95
    assert iou(out_mask, dark(out_image)) > 0.95
    assert iou(out_mask, mask) < 0.85


def test_elastic_moves_mask_with_the_displacement_field():
    image, mask = synthetic_pair()
    xs, ys = grid()
    # Each pixel carries its own coordinates; after warping they tell where it came from.
    coords = np.dstack([xs, ys, np.zeros_like(xs)]).astype(np.float32)
    spec = {"elastic": {"p": 1.0, "alpha": 300.0, "sigma": 10.0, "fill": SKIN}}
    compose = build_augment(spec, seed=0)
    reseed(compose, 0, 0, 0)
    out = compose(image=coords, mask=mask)
    source, out_mask = out["image"], out["mask"]
    displacement = np.hypot(source[..., 0] - xs, source[..., 1] - ys)
    assert np.median(displacement) > 2.0  # a real warp, not a no-op
    expected = inside_ellipse(source[..., 0].astype(np.float64), source[..., 1].astype(np.float64))
    assert iou(out_mask, expected) > 0.95
    # The uint8 image takes the same draw as its mask (same seed, same index).
    out_image, out_mask2 = augment_once(spec, image, mask)
    assert np.array_equal(out_mask, out_mask2)
    assert iou(out_mask2, dark(out_image)) > 0.95


def test_default_augmentation_keeps_masks_binary_and_aligned():
    image, mask = synthetic_pair()
    spec = {name: dict(options) for name, options in DEFAULT_AUGMENT.items()}
    for name in ("rotate", "affine", "elastic"):
        spec[name]["fill"] = SKIN  # skin-coloured corners, so "dark" means lesion only
    compose = build_augment(spec, seed=0)
    changed = 0
    for index in range(24):
        reseed(compose, 7, 0, index)
        out_image, out_mask = apply(compose, image, mask)
        assert out_image.shape == image.shape and out_image.dtype == np.uint8
        assert set(np.unique(out_mask)) <= {0, 255}
        assert iou(out_mask, dark(out_image)) > 0.9
        changed += not np.array_equal(out_mask, mask)
    assert changed >= 20


def test_augment_spec_errors_name_the_entry():
    with pytest.raises(ValueError, match="unknown augmentation 'rotato'"):
        build_augment({"rotato": {"p": 1.0}}, seed=0)
    with pytest.raises(ValueError, match="'hflip': p must be"):
        build_augment({"hflip": {"p": 2}}, seed=0)
    # Any albumentations class name works, its params passed straight through.
    compose = build_augment({"CoarseDropout": {"p": 1.0}}, seed=0)
    assert type(compose.transforms[0]).__name__ == "CoarseDropout"


def test_same_seed_epoch_index_gives_same_augmentation_and_different_epochs_differ():
    image, mask = synthetic_pair()
    compose = build_augment(DEFAULT_AUGMENT, seed=0)
    reseed(compose, 3, 1, 5)
    a = apply(compose, image, mask)
    for _ in range(3):  # calls in between must not matter
        apply(compose, image, mask)
    reseed(compose, 3, 1, 5)
    b = apply(compose, image, mask)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    outs = set()
    for epoch in range(6):
        reseed(compose, 3, epoch, 5)
        outs.add(apply(compose, image, mask)[0].tobytes())
    assert len(outs) >= 5


# --- preprocessing steps -----------------------------------------------------------------


def draw_hairs(image: np.ndarray, seed: int, count: int = 14):
    """Thin dark curved lines across the image, like hairs; returns (hairy image, hair mask)."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    hair = np.zeros((h, w), np.uint8)
    for _ in range(count):
        x, y, angle, bend = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, np.pi), rng.uniform(-0.04, 0.04)
        points = []
        for _ in range(70):
            points.append((x, y))
            x, y, angle = x + 4 * math.cos(angle), y + 4 * math.sin(angle), angle + bend
        cv2.polylines(hair, [np.round(points).astype(np.int32)], False, 255, 2)
    hairy = image.copy()
    hairy[hair > 0] = (40, 28, 22)
    return hairy, hair


@needs_data
@pytest.mark.parametrize("seed", [0, 1])
def test_hair_removal_restores_synthetic_hairs_to_the_background(seed):
    original = read_image(ISIC_IMAGES / "ISIC_0000000.jpg")  # a hairless lesion
    hairy, hair = draw_hairs(original, seed)
    clean, found = remove_hair(hairy)
    on_hair = hair > 0
    assert found.shape == hair.shape and set(np.unique(found)) <= {0, 255}
    assert (found[on_hair] > 0).mean() > 0.85  # the hairs are found
    before = np.abs(hairy.astype(int) - original).max(axis=2)[on_hair]
    after = np.abs(clean.astype(int) - original).max(axis=2)[on_hair]
    assert before.mean() > 100
    assert (after <= 25).mean() > 0.85  # most hair pixels back near what lay beneath
    assert after.mean() < 15


@needs_data
@pytest.mark.parametrize("image_id", ["ISIC_0000000", "ISIC_0000461"])
def test_hair_removal_leaves_a_hairless_image_nearly_unchanged(image_id):
    # ISIC_0000461 has a dense pigment network: the dark thin lines hair removal must spare.
    original = read_image(ISIC_IMAGES / f"{image_id}.jpg")
    clean, found = remove_hair(original)
    diff = np.abs(clean.astype(int) - original)
    assert (found > 0).mean() < 0.02
    assert diff.mean() < 1.0
    assert (diff.max(axis=2) > 10).mean() < 0.02


@needs_data
def test_hair_removal_on_a_large_image_repairs_at_full_size():
    original = cv2.resize(read_image(ISIC_IMAGES / "ISIC_0000000.jpg"), (2400, 1800), interpolation=cv2.INTER_CUBIC)
    hairy, hair = draw_hairs(original, 3, count=10)
    hair = cv2.dilate(hair, np.ones((9, 9), np.uint8))  # hairs at 2400 px are thicker
    hairy[hair > 0] = (40, 28, 22)
    clean, found = remove_hair(hairy)
    assert clean.shape == hairy.shape and found.shape == hair.shape
    assert (found[hair > 0] > 0).mean() > 0.8
    after = np.abs(clean.astype(int) - original).max(axis=2)
    assert (after[hair > 0] <= 30).mean() > 0.8
    far = cv2.dilate(found, np.ones((3, 3), np.uint8)) == 0
    assert np.array_equal(clean[far], hairy[far])  # pixels away from hairs keep full detail


@needs_data
def test_shades_of_gray_equalises_a_colour_cast():
    original = read_image(ISIC_IMAGES / "ISIC_0000001.jpg")
    cast = np.round(original * np.array([1.0, 0.8, 0.55])).astype(np.uint8)
    means = cast.reshape(-1, 3).mean(axis=0)
    assert means.max() / means.min() > 1.5
    corrected = shades_of_gray(cast, p=6)
    means = corrected.reshape(-1, 3).mean(axis=0)
    assert means.max() / means.min() < 1.1
    # p=1 (Gray World) makes channel means equal.
    gray_world = shades_of_gray(cast, p=1).reshape(-1, 3).mean(axis=0)
    assert np.ptp(gray_world) < 1.5
    # The estimate undoes the cast: the cast and the original image end up with the same
    # colours (chromaticity), the cast one only darker overall.
    def chroma(img):
        rgb = img.reshape(-1, 3).astype(float) + 1.0
        return rgb / rgb.sum(axis=1, keepdims=True)

    assert np.abs(chroma(corrected) - chroma(shades_of_gray(original, p=6))).mean() < 0.01
    assert np.abs(chroma(cast) - chroma(shades_of_gray(original, p=6))).mean() > 0.05


@needs_data
@pytest.mark.parametrize("image_id", ["ISIC_0000001", "ISIC_0000002"])  # high and low contrast
def test_contrast_steps_widen_lesion_skin_contrast(image_id):
    image = read_image(ISIC_IMAGES / f"{image_id}.jpg")
    lesion = read_mask(ISIC_MASKS / f"{image_id}_segmentation.png") > 0

    def gap(img):
        lum = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)[..., 0].astype(float)
        return lum[~lesion].mean() - lum[lesion].mean()

    assert gap(sigmoid_contrast(image)) > 1.3 * gap(image)
    out = clahe_lab(image)
    assert out.shape == image.shape and out.dtype == np.uint8

    def local_contrast(img):  # mean standard deviation of L in 15x15 windows
        lum = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
        mean, mean_sq = cv2.blur(lum, (15, 15)), cv2.blur(lum * lum, (15, 15))
        return float(np.sqrt(np.maximum(mean_sq - mean * mean, 0)).mean())

    assert local_contrast(out) > 1.4 * local_contrast(image)
    # CLAHE works on lightness only: hue stays (a, b of Lab barely move).
    ab = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2LAB)[..., 1:].astype(int)  # noqa: E731
    assert np.abs(ab(out) - ab(image)).mean() < 3


@needs_data
def test_preprocess_keeps_size_and_applies_only_enabled_steps():
    image = read_image(ISIC_IMAGES / "ISIC_0000002.jpg")
    image = cv2.resize(image, (451, 300))
    off = PipelineConfig()
    assert preprocess(image, off) is image
    every = PipelineConfig(hair_removal=True, clahe=True, sigmoid_contrast=True, colour_constancy=True)
    out = preprocess(image, every)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image)
    only_cc = preprocess(image, PipelineConfig(colour_constancy=True))
    assert np.array_equal(only_cc, shades_of_gray(image, p=6))


# --- resizing and undoing it -------------------------------------------------------------


@pytest.mark.parametrize("keep_aspect", [False, True])
def test_to_model_input_and_restore_size_round_trip(keep_aspect):
    h, w = 300, 451
    ys, xs = np.mgrid[0:h, 0:w]
    mask = np.where(((xs - 260) / 120.0) ** 2 + ((ys - 140) / 80.0) ** 2 <= 1, 255, 0).astype(np.uint8)
    image = np.dstack([255 - mask // 2] * 3).astype(np.uint8)
    config = PipelineConfig(size=128, keep_aspect=keep_aspect)
    x, meta = to_model_input(image, config)
    assert x.shape == (3, 128, 128) and x.dtype == np.float32
    assert meta.original_shape == (h, w)
    _, small_mask, _ = prepare(image, config, mask)
    assert set(np.unique(small_mask)) <= {0, 255}
    if keep_aspect:
        top, bottom, left, right = meta.pad
        assert top + bottom == 128 - meta.resized_shape[0] and left == right == 0
        assert np.allclose(x[:, :top], x[:, :1, :1])  # letterbox rows hold one padding value
    back = restore_size(small_mask.astype(np.float32) / 255.0, meta)
    assert back.shape == (h, w) and back.dtype == np.float32
    assert iou(back >= 0.5, mask) > 0.97


def test_normalisation_modes():
    image = np.full((8, 8, 3), 255, np.uint8)
    assert np.allclose(normalise_image(image, "unit"), 1.0)
    imagenet = normalise_image(image, "imagenet")
    assert np.allclose(imagenet[:, 0, 0], (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]))
    assert np.allclose(normalise_image(np.zeros((2, 2, 3), np.uint8), "symmetric"), -1.0)
    assert np.allclose(normalise_image(image, "symmetric"), 1.0)
    with pytest.raises(ValueError, match="normalise"):
        normalise_image(image, "zscore")


# --- config --------------------------------------------------------------------------------


def test_config_round_trips_and_rejects_unknown_keys():
    config = PipelineConfig(size=320, keep_aspect=True, hair_removal=True, augment=DEFAULT_AUGMENT)
    d = config.to_dict()
    assert PipelineConfig.from_dict(json.loads(json.dumps(d))) == config
    assert PipelineConfig.from_dict(yaml.safe_load(yaml.safe_dump(d))) == config
    with pytest.raises(ValueError, match="hair_remove.*sizee|sizee.*hair_remove"):
        PipelineConfig.from_dict({"sizee": 256, "hair_remove": True})
    with pytest.raises(ValueError, match="normalise"):
        PipelineConfig(normalise="zscore")
    config.augment["hflip"]["p"] = 0.0  # the config holds a copy; the default is untouched
    assert DEFAULT_AUGMENT["hflip"]["p"] == 0.5


# --- the training dataset ------------------------------------------------------------------


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


@needs_data
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


@needs_data
def test_uncached_dataset_skips_a_bad_file_without_crashing(tmp_path, train_ids):
    ids = train_ids[:3]
    ds = make_folder_dataset(tmp_path / "data", ids, corrupt=ids[1])
    lazy = SegmentationDataset(ds, ids, PipelineConfig(size=64), train=False, cache=False)
    with pytest.warns(DataQualityWarning, match=f"{ids[1]}.jpg"):
        item = lazy[1]
    assert item["image_id"] == ids[2]


# --- the preview command -------------------------------------------------------------------


@needs_data
def test_preview_cli_writes_pngs(tmp_path):
    from dermaseg.cli import main

    config = tmp_path / "recipe.yaml"
    config.write_text(yaml.safe_dump({"pipeline": {"size": 128, "hair_removal": True, "augment": DEFAULT_AUGMENT}}))
    out = tmp_path / "grid.png"
    code = main(["augment", "preview", "--data", str(ISIC2017), "--n", "3", "--out", str(out), "--config", str(config),
                 "--seed", "1"])
    assert code == 0
    for path in (out, tmp_path / "grid_preprocess.png"):
        with Image.open(path) as img:
            assert img.format == "PNG" and img.width > 300 and img.height > 200
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline: {sizee: 3}\n")
    assert main(["augment", "preview", "--data", str(ISIC2017), "--out", str(out), "--config", str(bad)]) == 2
