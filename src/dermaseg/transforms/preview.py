"""Pictures of what a pipeline config does: augmentation grid and preprocessing-step grid.

`augment_grid`: one column per image; the first row is the image as the model gets it before
augmentation (preprocessed, resized), the next rows its augmented versions in successive
epochs; the lesion mask's contour is drawn in green on every cell, so misalignment shows.
`preprocess_grid`: one row per image; columns show each preprocessing step on its own
(hair mask, hair removed, Shades of Gray, CLAHE, sigmoid contrast) and the config's chain.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np

from dermaseg.data.quality import DataQualityWarning
from dermaseg.data.readers import LesionDataset
import dermaseg.transforms.preprocess as steps  # the module (the package does not shadow it)
from dermaseg.transforms.pipeline import PREPROCESS_MAX_SIDE, PipelineConfig, prepare_record, preprocess

CONTOUR = (0, 255, 0)
HAIR = (255, 0, 0)


def draw_contour(image: np.ndarray, mask: np.ndarray, colour=CONTOUR, thickness: int | None = None) -> np.ndarray:
    """A copy of `image` with the outline of `mask` (>= 128) drawn on it."""
    out = np.ascontiguousarray(image.copy())
    contours, _ = cv2.findContours((mask >= 128).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, colour, thickness or max(1, round(max(image.shape[:2]) / 200)))
    return out


def _figure(rows: int, cols: int, cell_inches: float = 2.2):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(cols * cell_inches, rows * cell_inches + 0.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    for ax in axes.ravel():
        ax.set_axis_off()
    return fig, axes


def augment_grid(dataset: LesionDataset, image_ids: list[str], config: PipelineConfig, out: Path,
                 seed: int = 0, versions: int = 3) -> Path:
    """Originals and `versions` augmented copies (epochs 0..versions-1) of each image, with contours."""
    from dermaseg.transforms.augment import augment_sample, build_augment

    samples = []
    for image_id in image_ids:
        image, mask, messages = prepare_record(dataset, image_id, config)
        for message in messages:
            warnings.warn(message, DataQualityWarning, stacklevel=2)
        if image is not None:
            samples.append((image, mask, image_id))
    if not samples:
        raise ValueError("none of the chosen images could be read")
    augment = build_augment(config.augment, seed) if config.augment else None
    fig, axes = _figure(1 + versions, len(samples))
    for col, (image, mask, image_id) in enumerate(samples):
        axes[0, col].imshow(draw_contour(image, mask))
        axes[0, col].set_title(image_id, fontsize=8)
        for row in range(versions):
            aug_image, aug_mask = (image, mask) if augment is None else augment_sample(augment, image, mask, seed, row, col)
            axes[row + 1, col].imshow(draw_contour(aug_image, aug_mask))
            axes[row + 1, col].set_title(f"augmented, epoch {row}", fontsize=7)
    names = ", ".join(config.augment) or "none (config.augment is empty)"
    fig.suptitle(f"{config.size}x{config.size} model input, green = mask contour; augmentations: {names}",
                 fontsize=9, wrap=True)
    fig.savefig(out, dpi=100)
    return Path(out)


def preprocess_grid(dataset: LesionDataset, image_ids: list[str], config: PipelineConfig, out: Path) -> Path:
    """Each preprocessing step alone, then the config's own chain, for each image."""
    rows = []
    for image_id in image_ids:
        sample = dataset.try_load(dataset.record(image_id))  # a bad file is reported and left out
        if sample is not None:
            rows.append(sample)
    if not rows:
        raise ValueError("none of the chosen images could be read")
    on = set(config.steps)
    columns = ["original", "hair mask", "hair removed", "Shades of Gray", "CLAHE", "sigmoid contrast",
               "config: " + (" + ".join(config.steps) or "no preprocessing")]
    flags = {"hair removed": "hair_removal", "Shades of Gray": "colour_constancy", "CLAHE": "clahe",
             "sigmoid contrast": "sigmoid_contrast"}
    fig, axes = _figure(len(rows), len(columns))
    for r, sample in enumerate(rows):
        image, mask = sample.image, sample.mask
        # The same working resolution prepare() uses, so the picture matches training.
        scale = min(1.0, PREPROCESS_MAX_SIDE / max(image.shape[:2]))
        if scale < 1.0:
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            mask = None if mask is None else cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        clean, hair = steps.remove_hair(image)
        hair_view = image.copy()
        hair_view[hair > 0] = HAIR
        cells = [image if mask is None else draw_contour(image, mask), hair_view, clean,
                 steps.shades_of_gray(image, p=6), steps.clahe_lab(image), steps.sigmoid_contrast(image),
                 preprocess(image, config)]
        for c, (title, cell) in enumerate(zip(columns, cells)):
            axes[r, c].imshow(cell)
            label = title
            if title in flags:
                label += " [on]" if flags[title] in on else " [off]"
            if c == 0:
                label = f"{sample.image_id}"
            if c == 1:
                label = f"hair mask ({(hair > 0).mean():.1%})"
            axes[r, c].set_title(label, fontsize=7)
    fig.suptitle("Preprocessing steps, each applied alone to the original; [on]/[off] = in this config; "
                 "last column = the config's chain", fontsize=9)
    fig.savefig(out, dpi=100)
    return Path(out)


def preprocess_path(out: Path) -> Path:
    """grid.png -> grid_preprocess.png, next to it."""
    out = Path(out)
    return out.with_name(f"{out.stem}_preprocess{out.suffix or '.png'}")


def choose_ids(dataset: LesionDataset, n: int, seed: int) -> list[str]:
    """`n` images with masks, drawn with `seed`, in dataset order."""
    candidates = [r.image_id for r in dataset.records if r.mask_path is not None
                  and not r.image_path.name.endswith("(missing)")]
    if not candidates:
        raise ValueError("the dataset has no images with lesion masks")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(candidates), size=min(n, len(candidates)), replace=False)
    return [candidates[i] for i in sorted(picked)]
