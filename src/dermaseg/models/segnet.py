"""SegNet (Badrinarayanan, Kendall & Cipolla, TPAMI 2017) on a VGG-16 encoder.

The encoder is smp's VGG-16 (torchvision layout, so ImageNet weights load the usual way); we
walk its layers ourselves to keep the max-pooling indices, which the decoder uses to unpool:
the decoder places each value back where the encoder's maximum came from, then convolutions
densify the sparse map. The decoder mirrors the encoder (3, 3, 3, 2, 2 convs per stage).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# convolutions per VGG-16 stage, shallow to deep, and their widths
_STAGE_CONVS = (2, 2, 3, 3, 3)
_STAGE_WIDTHS = (64, 128, 256, 512, 512)


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SegNet(nn.Module):
    def __init__(self, encoder_name: str = "vgg16_bn", in_channels: int = 3, classes: int = 1,
                 dropout: float = 0.0, download_imagenet: bool = False):
        super().__init__()
        import segmentation_models_pytorch as smp

        if encoder_name not in ("vgg16", "vgg16_bn"):
            raise ValueError(f"SegNet needs a VGG-16 encoder ('vgg16' or 'vgg16_bn'), got {encoder_name!r}")
        self.encoder = smp.encoders.get_encoder(encoder_name, in_channels=in_channels, depth=5,
                                                weights="imagenet" if download_imagenet else None)
        pools = sum(isinstance(layer, nn.MaxPool2d) for layer in self.encoder.features)
        if pools != len(_STAGE_WIDTHS):
            raise AssertionError(f"expected 5 max-pooling layers in {encoder_name}, found {pools}")

        stages = []
        # deepest stage first; each stage ends at the width of the next shallower one
        for depth in reversed(range(len(_STAGE_WIDTHS))):
            width, n = _STAGE_WIDTHS[depth], _STAGE_CONVS[depth]
            out = _STAGE_WIDTHS[max(depth - 1, 0)]
            stages.append(nn.Sequential(*[_conv_bn_relu(width, width) for _ in range(n - 1)],
                                        _conv_bn_relu(width, out)))
        self.decoder = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Conv2d(_STAGE_WIDTHS[0], classes, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        indices, sizes = [], []
        for layer in self.encoder.features:
            if isinstance(layer, nn.MaxPool2d):
                sizes.append(x.shape[-2:])
                x, index = F.max_pool2d(x, kernel_size=2, stride=2, return_indices=True)
                indices.append(index)
            else:
                x = layer(x)
        for stage, index, size in zip(self.decoder, reversed(indices), reversed(sizes)):
            x = stage(F.max_unpool2d(x, index, kernel_size=2, stride=2, output_size=size))
        return self.head(x)
