"""Training augmentation built on albumentations 2.0.x (MIT licence).

A spec is a dict `name -> dict(p=..., **params)`, applied in order, each with its own
probability. `name` is one of the short aliases below (dermoscopy-sensible defaults that
`params` override) or any albumentations transform class name, whose params are passed
through unchanged. Image and mask go through one Compose, so they always share the same
random draw; masks are resampled with nearest neighbour and stay {0, 255}.
"""

from __future__ import annotations

import os
import random

import cv2
import numpy as np

# albumentations 2.0.x asks PyPI for a newer version at import time; this project never
# reaches the network at run time.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402

# Geometric transforms fill uncovered corners with black and background mask, like the
# dermatoscope's own dark vignette, instead of mirroring a second lesion into the frame.
_BORDER = dict(border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0)

# alias -> (albumentations class, default params). Params use albumentations' own names.
ALIASES: dict[str, tuple[str, dict]] = {
    "hflip": ("HorizontalFlip", {}),
    "vflip": ("VerticalFlip", {}),
    "transpose": ("Transpose", {}),
    # Dermoscopy has no canonical orientation: any angle is a valid view.
    "rotate": ("Rotate", dict(limit=(-180, 180), **_BORDER)),
    "translate": ("Affine", dict(translate_percent=(-0.1, 0.1), **_BORDER)),
    "scale": ("Affine", dict(scale=(0.8, 1.25), **_BORDER)),
    "shear": ("Affine", dict(shear=(-12, 12), **_BORDER)),
    "affine": ("Affine", dict(translate_percent=(-0.08, 0.08), scale=(0.85, 1.2), shear=(-10, 10), **_BORDER)),
    "brightness_contrast": ("RandomBrightnessContrast", dict(brightness_limit=0.2, contrast_limit=0.2)),
    # Small hue shifts: lesion colour carries diagnostic meaning, skin tones vary a lot.
    "hue_saturation": ("HueSaturationValue", dict(hue_shift_limit=8, sat_shift_limit=25, val_shift_limit=0)),
    "gaussian_noise": ("GaussNoise", dict(std_range=(0.01, 0.05))),
    # alpha/sigma in pixels: smooth, skin-like warps at 256 px that keep borders plausible.
    "elastic": ("ElasticTransform", dict(alpha=40.0, sigma=7.0, **_BORDER)),
    "grid_distortion": ("GridDistortion", dict(distort_limit=0.2, **_BORDER)),
}

# Geometric albumentations classes whose mask interpolation we force to nearest.
_MASK_INTERPOLATION_CLASSES = {"Affine", "Rotate", "SafeRotate", "ElasticTransform", "GridDistortion",
                               "OpticalDistortion", "ShiftScaleRotate", "Perspective", "RandomResizedCrop",
                               "Resize", "RandomScale", "LongestMaxSize", "SmallestMaxSize", "ThinPlateSpline",
                               "PiecewiseAffine"}


def describe_aliases() -> str:
    return ", ".join(f"{alias} ({cls})" for alias, (cls, _) in ALIASES.items())


def build_transform(name: str, options: dict) -> A.BasicTransform:
    """One albumentations transform from a spec entry; errors name the entry."""
    if not isinstance(options, dict):
        raise ValueError(f"augment entry {name!r} must be a mapping like {{p: 0.5, ...}}, got {options!r}")
    options = dict(options)
    p = options.pop("p", 0.5)
    if not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"augment entry {name!r}: p must be a number in [0, 1], got {p!r}")
    if name in ALIASES:
        cls_name, defaults = ALIASES[name]
        params = {**defaults, **options}
    elif isinstance(getattr(A, name, None), type) and issubclass(getattr(A, name), A.BasicTransform):
        cls_name, params = name, options
    else:
        raise ValueError(f"unknown augmentation {name!r}: use one of {describe_aliases()}, "
                         "or an albumentations transform class name")
    if cls_name in _MASK_INTERPOLATION_CLASSES:
        params.setdefault("mask_interpolation", cv2.INTER_NEAREST)
    # YAML/JSON give lists; albumentations wants tuples for ranges.
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    try:
        return getattr(A, cls_name)(p=float(p), **params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"augment entry {name!r} ({cls_name}): {exc}") from None


def build_augment(spec: dict, seed: int | None = 0) -> A.Compose:
    """A seeded Compose of the spec's transforms, applied to `image` and `mask` together.

    An empty spec gives an identity Compose. For per-sample reproducibility independent
    of call order use `reseed(compose, ...)` before each call.
    """
    if not isinstance(spec, dict):
        raise ValueError(f"augment spec must be a mapping name -> options, got {type(spec).__name__}")
    transforms = [build_transform(name, options) for name, options in spec.items()]
    return A.Compose(transforms, mask_interpolation=cv2.INTER_NEAREST, seed=seed)


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random generator of one sample in one epoch: independent of worker or call order."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch), int(index)])


def reseed(compose: A.Compose, seed: int, epoch: int, index: int) -> None:
    """Point every transform of `compose` at one generator derived from (seed, epoch, index).

    One shared generator (not `set_random_seed`, which gives each transform an identically
    seeded generator) so the transforms' draws are not correlated with each other.
    """
    rng = sample_rng(seed, epoch, index)
    compose.set_random_state(rng, random.Random(int(rng.integers(2**63))))


def apply(compose: A.Compose, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = compose(image=image, mask=mask)
    return out["image"], out["mask"]


def augment_sample(compose: A.Compose, image: np.ndarray, mask: np.ndarray, seed: int, epoch: int,
                   index: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample `index` of epoch `epoch` augmented: the same result whatever the call order."""
    reseed(compose, seed, epoch, index)
    return apply(compose, image, mask)
