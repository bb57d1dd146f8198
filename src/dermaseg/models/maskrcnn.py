"""Mask R-CNN (torchvision, ResNet-50-FPN) as a semantic lesion segmenter.

``forward(x)`` runs the detector's inference path on an already-normalised batch (ImageNet
mean/std, like the other encoders) at its own size -- torchvision's resize-to-800 transform is
bypassed -- and merges the instance masks into one lesion map: each pixel takes the maximum
over instances of (instance score x mask probability). It returns that map as logits so it
plugs into the same losses and metrics as every other architecture. Gradients of a semantic
loss reach the backbone, the mask head and the box classifier (through the scores) but not
the RPN or the box regressor (box coordinates are not differentiable).

``detection_loss(x, masks)`` is Mask R-CNN's own training objective (RPN + box + mask losses,
one instance per connected component of the lesion mask): the proper way to train this
architecture. A training loop should use it when the model has it.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

_EPS = 1e-6


def masks_to_targets(masks: torch.Tensor, min_area: int = 16) -> list[dict]:
    """(B, 1, H, W) binary masks -> torchvision detection targets, one instance per connected
    component of at least ``min_area`` pixels (an image without lesion gives empty targets)."""
    from scipy import ndimage

    targets = []
    for mask in masks[:, 0].detach().cpu().numpy() > 0.5:
        labelled, n = ndimage.label(mask)
        boxes, instances = [], []
        for index, box in enumerate(ndimage.find_objects(labelled), start=1):
            instance = labelled == index
            if box is None or instance.sum() < min_area:
                continue
            rows, cols = box
            boxes.append([cols.start, rows.start, cols.stop, rows.stop])
            instances.append(instance)
        h, w = mask.shape
        targets.append({
            "boxes": torch.tensor(boxes, dtype=torch.float32, device=masks.device).reshape(-1, 4),
            "labels": torch.ones(len(boxes), dtype=torch.int64, device=masks.device),
            "masks": torch.from_numpy(np.array(instances, dtype=np.uint8).reshape(-1, h, w)).to(masks.device),
        })
    return targets


class MaskRCNNSemantic(nn.Module):
    def __init__(self, in_channels: int = 3, classes: int = 1, dropout: float = 0.0,
                 download_imagenet: bool = False, detections_per_image: int = 10):
        super().__init__()
        from torchvision.models import ResNet50_Weights
        from torchvision.models.detection import maskrcnn_resnet50_fpn

        if in_channels != 3 or classes != 1:
            raise ValueError("maskrcnn supports in_channels=3 and classes=1 (one lesion class) only")
        self.detector = maskrcnn_resnet50_fpn(
            weights=None, num_classes=2,  # background + lesion
            weights_backbone=ResNet50_Weights.IMAGENET1K_V1 if download_imagenet else None,
            box_detections_per_img=detections_per_image,
            # A dermoscopy image holds one lesion, rarely a few: 100 proposals are plenty and
            # make the box head ~10x cheaper than torchvision's 1000 (COCO) on a CPU.
            rpn_pre_nms_top_n_test=500, rpn_post_nms_top_n_test=100,
            rpn_pre_nms_top_n_train=1000, rpn_post_nms_top_n_train=500, box_batch_size_per_image=128,
        )
        predictor = self.detector.roi_heads.mask_predictor  # conv5_mask, relu, mask_fcn_logits
        self.detector.roi_heads.mask_predictor = nn.Sequential(OrderedDict([
            ("conv5_mask", predictor.conv5_mask), ("relu", predictor.relu),
            ("dropout", nn.Dropout(dropout)), ("mask_fcn_logits", predictor.mask_fcn_logits),
        ]))

    def encoder_module(self) -> nn.Module:
        """The ResNet-50 body (torchvision keys: conv1, layer1...)."""
        return self.detector.backbone.body

    def _run_heads(self, x: torch.Tensor, targets: list[dict] | None, training: bool):
        from torchvision.models.detection.image_list import ImageList

        images = ImageList(x, [tuple(x.shape[-2:])] * x.shape[0])
        features = self.detector.backbone(x)
        rpn, heads = self.detector.rpn, self.detector.roi_heads
        # Only these two modules' own flags pick the training/inference path; children (our
        # dropout) keep the mode the caller set.
        saved = rpn.training, heads.training
        rpn.training = heads.training = training
        try:
            proposals, rpn_losses = rpn(images, features, targets)
            detections, head_losses = heads(features, proposals, images.image_sizes, targets)
        finally:
            rpn.training, heads.training = saved
        return features, detections, {**rpn_losses, **head_losses}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torchvision.models.detection.roi_heads import paste_masks_in_image

        height, width = x.shape[-2:]
        features, detections, _ = self._run_heads(x, None, training=False)
        maps = []
        for det in detections:
            if len(det["boxes"]):
                pasted = paste_masks_in_image(det["masks"], det["boxes"], (height, width))[:, 0]
                maps.append((pasted * det["scores"][:, None, None]).amax(dim=0))
            else:
                maps.append(x.new_zeros((height, width)))
        # float32: under fp16 autocast 1 - 1e-6 rounds to 1 and the logit would be infinite
        logits = torch.logit(torch.stack(maps)[:, None].float().clamp(_EPS, 1 - _EPS))
        if torch.is_grad_enabled() and not logits.requires_grad:
            # Nothing detected in the whole batch: the gradient is truly zero, but backward()
            # must still work, so tie the output to the graph.
            logits = logits + 0.0 * features["0"].sum()
        return logits

    def detection_loss(self, x: torch.Tensor, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        """Mask R-CNN's own losses (RPN objectness/box, classifier, box regression, mask) for a
        batch of normalised images and (B, 1, H, W) binary lesion masks."""
        _, _, losses = self._run_heads(x, masks_to_targets(masks), training=True)
        return losses
