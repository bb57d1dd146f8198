"""The shipped models, one table for both tasks, and the one resolver of model names.

Each shipped model has two files in `dermaseg/weights/`: the ONNX file that inference loads
(ONNX Runtime, no PyTorch) and the PyTorch weights kept for fine-tuning and re-export. The
ONNX file is made from the .pt by one command, `dermaseg export --shipped`, so new weights
only need that command run again. A shipped ensemble is one JSON file naming shipped member
models (the mean of their probabilities) with its own version and held-out figures.

The name a user types (`--model isic-unet-lite0`) is the name every output prints back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
TASKS = ("segmentation", "classification")


@dataclass(frozen=True)
class ShippedModel:
    name: str
    task: str
    onnx: str          # file in WEIGHTS_DIR: what inference loads
    torch: str         # file in WEIGHTS_DIR: the PyTorch weights (fine-tuning, export)
    recipe: str        # the training config, relative to the repository
    description: str
    members: tuple[str, ...] = ()   # an ensemble: the shipped models it averages (onnx = torch = its JSON file)
    second_look: str = ""           # a segmenter: the shipped model that segments its second look's crops, if not itself

    @property
    def is_ensemble(self) -> bool:
        return bool(self.members)

    @property
    def onnx_path(self) -> Path:
        return WEIGHTS_DIR / self.onnx

    @property
    def torch_path(self) -> Path:
        return WEIGHTS_DIR / self.torch


SHIPPED: dict[str, ShippedModel] = {m.name: m for m in [
    ShippedModel("isic-unet-lite0", "segmentation", "isic_unet_lite0.onnx", "isic_unet_lite0.pt",
                 "configs/isic2017_unet_lite0_lovasz.yaml",
                 "U-Net / EfficientNet-Lite0, lesion masks, trained on ISIC 2017 (+ HAM10000)",
                 second_look="isic-unet-lite0-second-look"),
    ShippedModel("isic-unet-lite0-second-look", "segmentation", "isic_unet_lite0_second_look.onnx",
                 "isic_unet_lite0_second_look.pt", "configs/isic_unet_lite0_clinical_crops.yaml",
                 "isic-unet-lite0's second look at small lesions: the same network fine-tuned on crops around "
                 "lesions in clinical close-ups (+ HAM10000)"),
    ShippedModel("ham10000-lite0", "classification", "classifier_ham10000_lite0.onnx",
                 "classifier_ham10000_lite0.pt", "configs/classify_ham_isic2017_lite0_finetune.yaml",
                 "EfficientNet-Lite0 fine-tuned whole on HAM10000 and ISIC 2017 together, HAM10000's seven classes"),
    ShippedModel("ham10000-lite1", "classification", "classifier_ham10000_lite1.onnx",
                 "classifier_ham10000_lite1.pt", "configs/classify_ham_isic2017_lite1_240_zero_head.yaml",
                 "EfficientNet-Lite1 at 240 px fine-tuned whole on HAM10000 and ISIC 2017 together, "
                 "HAM10000's seven classes"),
    ShippedModel("ham10000-ensemble", "classification", "classifier_ham10000_ensemble.json",
                 "classifier_ham10000_ensemble.json", "configs/classify_ham_isic2017_lite1_240_zero_head.yaml",
                 "the mean of ham10000-lite0's and ham10000-lite1's probabilities, HAM10000's seven classes",
                 members=("ham10000-lite0", "ham10000-lite1")),
]}
DEFAULTS = {"segmentation": "isic-unet-lite0", "classification": "ham10000-ensemble"}


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    name: str                         # what outputs print: the shipped name, or the path as given
    shipped: ShippedModel | None = None


def shipped_for_task(task: str) -> list[ShippedModel]:
    return [m for m in SHIPPED.values() if m.task == task]


def resolve(model: str | Path | None, task: str, *, prefer: str = "onnx") -> ResolvedModel:
    """A shipped model name (None: the task's default) or a model file -> the file to load.

    prefer="onnx": a shipped model loads from its ONNX file (inference, no torch);
    prefer="torch": from its PyTorch weights (export, fine-tuning). A file path is used as given.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if model is None:
        model = DEFAULTS[task]
    key = str(model)
    if key in SHIPPED:
        entry = SHIPPED[key]
        if entry.task != task:
            raise ValueError(f"{key!r} is a shipped {entry.task} model, not a {task} model "
                             f"(shipped {task} models: {', '.join(m.name for m in shipped_for_task(task))})")
        path = entry.torch_path if prefer == "torch" else entry.onnx_path
        if not path.is_file():
            other = entry.onnx_path if prefer == "torch" else entry.torch_path
            if prefer == "onnx" and other.is_file() and _has_torch():
                path = other  # a development tree whose ONNX file is not made yet
            else:
                hint = "; make it with `dermaseg export --shipped`" if prefer == "onnx" else ""
                raise FileNotFoundError(f"{path}: the shipped model {key!r} is missing from this installation{hint}")
        return ResolvedModel(path, key, entry)
    path = Path(model)
    if not path.is_file():
        names = ", ".join(m.name for m in shipped_for_task(task))
        raise FileNotFoundError(f"{model}: no such model file, and not a shipped {task} model name (shipped: {names})")
    return ResolvedModel(path, key, _shipped_by_file(path))


def _shipped_by_file(path: Path) -> ShippedModel | None:
    """The shipped entry a path points at (e.g. the weights folder's own .onnx), if any."""
    try:
        resolved = path.resolve()
    except OSError:
        return None
    for entry in SHIPPED.values():
        if resolved in (entry.onnx_path, entry.torch_path):
            return entry
    return None


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None
