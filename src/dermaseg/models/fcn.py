"""Fully convolutional networks, two ways, with the backbone taken from smp.

``FCN``: torchvision's recipe (dilated backbone at output stride 8 + ``FCNHead`` + bilinear
upsampling), for any dilatable encoder. ``FCN8s``: the original skip architecture, no dilation.

With ``resnet50``/``resnet101`` ``FCN`` is torchvision's ``fcn_resnet50``/``fcn_resnet101``
without the auxiliary head: smp's ResNet encoders are torchvision's ResNets, dilated the same
way (layer3 x2, layer4 x4, first block of each at the previous rate), and the head is
torchvision's own class: loaded with torchvision's weights, the outputs are identical.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn import functional as F


class FCN(nn.Module):
    def __init__(self, encoder_name: str, in_channels: int = 3, classes: int = 1, dropout: float = 0.0,
                 encoder_weights: str | bool | None = None):
        super().__init__()
        import segmentation_models_pytorch as smp
        from torchvision.models.segmentation.fcn import FCNHead

        # torchvision dilates Bottleneck ResNets its own way; smp's output_stride does the rest.
        torchvision_resnet = encoder_name in ("resnet50", "resnet101", "resnet152")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            self.encoder = smp.encoders.get_encoder(
                encoder_name, in_channels=in_channels, depth=5,
                weights=encoder_weights,  # smp's download path: "imagenet" (True for tu- encoders)
                output_stride=32 if torchvision_resnet else 8,
            )
        if torchvision_resnet:
            _dilate_like_torchvision(self.encoder)
        self.classifier = FCNHead(self.encoder.out_channels[-1], classes)
        # FCNHead = conv3x3, BN, ReLU, Dropout(0.1), conv1x1: its dropout is the one before the final conv.
        self.classifier[3].p = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)[-1]
        return _upsample(self.classifier(features), x)


def _dilate_like_torchvision(resnet: nn.Module) -> None:
    """torchvision's ``replace_stride_with_dilation=[False, True, True]`` on a built ResNet:
    layer3 and layer4 lose their stride; their first block keeps the previous dilation
    (1, then 2) and the rest use the new one (2, then 4)."""
    for layer, previous, dilation in ((resnet.layer3, 1, 2), (resnet.layer4, 2, 4)):
        for i, block in enumerate(layer):
            rate = previous if i == 0 else dilation
            block.conv2.stride, block.conv2.dilation, block.conv2.padding = (1, 1), (rate, rate), (rate, rate)
            if block.downsample is not None:
                block.downsample[0].stride = (1, 1)


class FCN8s(nn.Module):
    """FCN-8s (Long, Shelhamer & Darrell, CVPR 2015): the skip architecture, no dilation.

    Class scores from the deepest features (stride 32, through an ``FCNHead``) are upsampled
    2x and summed with 1x1-conv scores of the stride-16 features, upsampled 2x again and summed
    with scores of the stride-8 features, then upsampled 8x to the input. The backbone keeps
    its strides, so the model costs about what its encoder costs -- unlike the dilated ``FCN``
    above, whose two deepest stages run on 4x and 16x more pixels. Upsampling is bilinear; the paper's
    learned 2x deconvolutions start as bilinear, and the skip score layers start at zero as
    there, so training begins from FCN-32s and learns how much the finer strides add.
    """

    def __init__(self, encoder_name: str, in_channels: int = 3, classes: int = 1, dropout: float = 0.0,
                 encoder_weights: str | bool | None = None):
        super().__init__()
        import segmentation_models_pytorch as smp
        from torchvision.models.segmentation.fcn import FCNHead

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            self.encoder = smp.encoders.get_encoder(encoder_name, in_channels=in_channels, depth=5,
                                                    weights=encoder_weights)
        channels_8, channels_16, channels_32 = self.encoder.out_channels[-3:]
        self.classifier = FCNHead(channels_32, classes)
        self.classifier[3].p = dropout  # FCNHead's dropout, right before its final conv
        self.score_16 = nn.Conv2d(channels_16, classes, 1)
        self.score_8 = nn.Conv2d(channels_8, classes, 1)
        for score in (self.score_16, self.score_8):
            nn.init.zeros_(score.weight)
            nn.init.zeros_(score.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features_8, features_16, features_32 = self.encoder(x)[-3:]
        scores = self.classifier(features_32)
        scores = _upsample(scores, features_16) + self.score_16(features_16)
        scores = _upsample(scores, features_8) + self.score_8(features_8)
        return _upsample(scores, x)


def _upsample(scores: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of class scores to the spatial size of `like` (features or the input)."""
    return F.interpolate(scores, size=like.shape[-2:], mode="bilinear", align_corners=False)
