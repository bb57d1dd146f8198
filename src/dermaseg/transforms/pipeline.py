"""The image pipeline shared by training and inference: config, preprocessing, resize, undo.

Training and inference call the same `prepare()` (preprocess, then resize to the model's
square input), so a model sees at inference exactly the kind of image it was trained on.
`SegmentationDataset` (torch) lives in `dermaseg.segment.dataset`, which builds on this
module; this module itself does not import torch, so ONNX inference stays light.
"""

from __future__ import annotations

import copy
import hashlib
import json
import warnings
from dataclasses import asdict, dataclass, field, fields

import cv2
import numpy as np

import dermaseg.transforms.preprocess as steps  # the module (the package does not shadow it)
from dermaseg.data.quality import DataQualityWarning, Problem
from dermaseg.data.readers import LesionDataset

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
NORMALISATIONS = ("imagenet", "unit", "symmetric")  # symmetric: [-1, 1], what EfficientNet-Lite weights expect

# With preprocessing on, a larger image is first shrunk to this long side (or the model
# size, if larger): the steps then cost the same on a 24 Mpx original as on a 1 Mpx one,
# and the final resize to the model size loses nothing the model could have seen.
PREPROCESS_MAX_SIDE = 1024

# Bumped whenever preprocessing or resizing changes what the cached arrays hold.
PIPELINE_VERSION = 2  # 2: sigmoid centred on Otsu (not the median); smaller inpaint radius

# The "combined" training augmentation: every transform the literature on ISIC uses, each
# with its own probability. Explicit parameters (albumentations' names) so a checkpoint
# records exactly what was applied.
DEFAULT_AUGMENT: dict = {
    "hflip": {"p": 0.5},
    "vflip": {"p": 0.5},
    "rotate": {"p": 0.75, "limit": [-180, 180]},
    "affine": {"p": 0.5, "translate_percent": [-0.08, 0.08], "scale": [0.85, 1.2], "shear": [-10, 10]},
    "brightness_contrast": {"p": 0.5, "brightness_limit": 0.2, "contrast_limit": 0.2},
    "hue_saturation": {"p": 0.5, "hue_shift_limit": 8, "sat_shift_limit": 25, "val_shift_limit": 0},
    "gaussian_noise": {"p": 0.2, "std_range": [0.01, 0.05]},
    "elastic": {"p": 0.25, "alpha": 40.0, "sigma": 7.0},
}


def _plain(value):
    """Tuples -> lists, numpy scalars -> Python: what JSON and YAML both accept."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class PipelineConfig:
    """Everything that turns a file's pixels into the model's input; stored in checkpoints."""

    size: int = 256                  # square model input side
    keep_aspect: bool = False        # True: letterbox-pad to square instead of squashing
    normalise: str = "imagenet"      # "imagenet" (mean/std) or "unit" ([0,1])
    hair_removal: bool = False
    clahe: bool = False
    sigmoid_contrast: bool = False
    colour_constancy: bool = False   # Shades of Gray, p=6
    augment: dict = field(default_factory=dict)   # transform name -> dict(p=..., params...); {} = none

    def __post_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or self.size < 16:
            raise ValueError(f"size must be an integer >= 16, got {self.size!r}")
        self.size = int(self.size)
        if self.normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {self.normalise!r}")
        for name in ("keep_aspect", "hair_removal", "clahe", "sigmoid_contrast", "colour_constancy"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        augment = {} if self.augment is None else self.augment
        if not isinstance(augment, dict):
            raise ValueError(f"augment must be a mapping name -> {{p: ..., params}}, got {augment!r}")
        for name, options in augment.items():
            if not isinstance(options, dict):
                raise ValueError(f"augment entry {name!r} must be a mapping like {{p: 0.5}}, got {options!r}")
            p = options.get("p", 0.5)
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
                raise ValueError(f"augment entry {name!r}: p must be a number in [0, 1], got {p!r}")
        # A private copy: DEFAULT_AUGMENT or a caller's dict must not change under us.
        self.augment = copy.deepcopy(augment)

    @classmethod
    def from_dict(cls, d: dict) -> PipelineConfig:
        if not isinstance(d, dict):
            raise ValueError(f"pipeline config must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown pipeline config key(s): {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(known))})")
        return cls(**d)

    def to_dict(self) -> dict:
        return _plain(asdict(self))

    @property
    def steps(self) -> list[str]:
        """Enabled preprocessing steps, in the order they are applied."""
        return [name for name in ("hair_removal", "colour_constancy", "clahe", "sigmoid_contrast")
                if getattr(self, name)]

    def prepare_key(self) -> str:
        """Hash of the settings that decide prepared (preprocessed + resized) pixels."""
        d = {k: v for k, v in self.to_dict().items() if k not in ("augment", "normalise")}
        d["pipeline_version"] = PIPELINE_VERSION
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def preprocess(image: np.ndarray, config: PipelineConfig) -> np.ndarray:
    """Apply the config's enabled deterministic steps; same size out as in, no resize.

    Order: hair removal first (hairs would bias the colour and contrast statistics), then
    colour constancy, CLAHE, sigmoid contrast. Safe on any size: hair removal works on a
    copy of at most `HAIR_MAX_SIDE`, the other steps are lookup tables.
    """
    steps._check_rgb(image)
    out = image
    if config.hair_removal:
        out, _ = steps.remove_hair(out)
    if config.colour_constancy:
        out = steps.shades_of_gray(out, p=6)
    if config.clahe:
        out = steps.clahe_lab(out)
    if config.sigmoid_contrast:
        out = steps.sigmoid_contrast(out)
    return out


@dataclass
class ResizeMeta:
    """How an image was fitted into the model's square, so a prediction can be mapped back."""

    original_shape: tuple[int, int]          # (H, W) of the input image
    resized_shape: tuple[int, int]           # (h, w) of the image content inside the square
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, bottom, left, right (letterbox)

    @property
    def size(self) -> int:
        return self.resized_shape[0] + self.pad[0] + self.pad[1]

    def to_dict(self) -> dict:
        return _plain(asdict(self))


def _interpolation(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> int:
    shrinking = dst_hw[0] * dst_hw[1] < src_hw[0] * src_hw[1]
    return cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR


def fit_geometry(shape: tuple[int, int], size: int, keep_aspect: bool) -> ResizeMeta:
    h, w = int(shape[0]), int(shape[1])
    if not keep_aspect:
        return ResizeMeta((h, w), (size, size))
    scale = size / max(h, w)
    nh, nw = max(1, min(size, round(h * scale))), max(1, min(size, round(w * scale)))
    top, left = (size - nh) // 2, (size - nw) // 2
    return ResizeMeta((h, w), (nh, nw), (top, size - nh - top, left, size - nw - left))


def resize_image(image: np.ndarray, meta: ResizeMeta) -> np.ndarray:
    """Image to the model square (area when shrinking, bilinear when enlarging; black padding)."""
    nh, nw = meta.resized_shape
    out = cv2.resize(image, (nw, nh), interpolation=_interpolation(image.shape[:2], (nh, nw)))
    top, bottom, left, right = meta.pad
    if any(meta.pad):
        out = cv2.copyMakeBorder(out, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return out


def resize_mask(mask: np.ndarray, meta: ResizeMeta) -> np.ndarray:
    """Mask with the image's geometry: area/bilinear then threshold, so it stays {0,255}
    without the staircase aliasing of nearest neighbour."""
    nh, nw = meta.resized_shape
    out = cv2.resize(mask, (nw, nh), interpolation=_interpolation(mask.shape[:2], (nh, nw)))
    out = np.where(out >= 128, 255, 0).astype(np.uint8)
    top, bottom, left, right = meta.pad
    if any(meta.pad):
        out = cv2.copyMakeBorder(out, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
    return out


def prepare(image: np.ndarray, config: PipelineConfig, mask: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray | None, ResizeMeta]:
    """Preprocess and resize to the model square: uint8 image (and mask), and the geometry.

    The one code path used by the training cache and by inference.
    """
    steps._check_rgb(image)
    meta = fit_geometry(image.shape[:2], config.size, config.keep_aspect)
    work = image
    limit = max(PREPROCESS_MAX_SIDE, config.size)
    if config.steps and max(image.shape[:2]) > limit:
        scale = limit / max(image.shape[:2])
        work = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    work = preprocess(work, config)
    out_mask = None
    if mask is not None:
        if mask.shape[:2] != image.shape[:2]:
            raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
                             f"{image.shape[1]}x{image.shape[0]}")
        out_mask = resize_mask(mask, meta)
    return resize_image(work, meta), out_mask, meta


def normalise_image(image: np.ndarray, mode: str) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 (3, H, W), scaled to [0,1] and, for "imagenet", standardised."""
    out = image.astype(np.float32) * np.float32(1.0 / 255.0)
    if mode == "imagenet":
        out = (out - IMAGENET_MEAN) / IMAGENET_STD
    elif mode == "symmetric":
        out = out * np.float32(2.0) - np.float32(1.0)
    elif mode != "unit":
        raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {mode!r}")
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def to_model_input(image: np.ndarray, config: PipelineConfig) -> tuple[np.ndarray, ResizeMeta]:
    """uint8 RGB at any size -> float32 (3, size, size) normalised, and how to undo the resize."""
    prepared, _, meta = prepare(image, config)
    return normalise_image(prepared, config.normalise), meta


def restore_size(prob: np.ndarray, meta: ResizeMeta) -> np.ndarray:
    """float32 (size, size) map -> float32 (H, W) at the original image size.

    Crops the letterbox padding, then bilinear resize: the inverse of `prepare`'s geometry.
    """
    prob = np.asarray(prob, dtype=np.float32)
    if prob.ndim == 3 and prob.shape[0] == 1:
        prob = prob[0]
    if prob.ndim != 2 or prob.shape != (meta.size, meta.size):
        raise ValueError(f"expected a ({meta.size}, {meta.size}) map, got shape {prob.shape}")
    top, _, left, _ = meta.pad
    nh, nw = meta.resized_shape
    prob = np.ascontiguousarray(prob[top:top + nh, left:left + nw])
    h, w = meta.original_shape
    return cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)


def prepare_record(dataset: LesionDataset, image_id: str, config: PipelineConfig):
    """A data set's image and mask through `prepare`: (image, mask, messages), prepared uint8
    arrays, or None and the warnings explaining why.

    Warnings are returned as text, not emitted, because this runs in worker processes whose
    warnings the caller would never see; the main process re-emits them.
    """
    record = dataset.record(image_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataQualityWarning)
        sample = dataset.try_load(record)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataQualityWarning)]
    if sample is None:
        return None, None, messages
    if sample.mask is None:
        messages.append(str(Problem("missing_mask", record.image_path,
                                    "image has no lesion mask; skipped for segmentation", image_id)))
        return None, None, messages
    image, mask, _ = prepare(sample.image, config, sample.mask)
    return image, mask, messages
