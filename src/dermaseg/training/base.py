"""The Lightning module both tasks build on: the optimiser and learning-rate schedule a recipe's
`train` section names, parameter groups (a lower learning rate for a pretrained backbone), the
backbone frozen for the first epochs, NHWC memory layout, and per-epoch counters.

`dermaseg.segment.module.SegmentationModule` and `dermaseg.classify.module.ClassifierModule` are
thin subclasses: each adds its network, loss and metrics. A subclass keeps its network under
its own attribute (`model` for segmentation, `net` for classification: the state_dict keys of
existing checkpoints) and returns it from `network`.
"""

from __future__ import annotations

import math
import time

import lightning as L
import torch

from dermaseg.core.config import OPTIMIZERS


def build_optimizer(groups: list[dict], name: str, lr: float, weight_decay: float,
                    adamw_weight_decay: float) -> torch.optim.Optimizer:
    """adam | adamw | sgd (momentum 0.9, Nesterov) over `groups`. AdamW decays the weights by
    `weight_decay`, or by `adamw_weight_decay` (each recipe states it) where weight_decay is 0."""
    name = name.lower()
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay or adamw_weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


class TaskModule(L.LightningModule):
    """What the training modules share; `train_cfg` is the recipe's train section.

    Subclasses give `network`, `param_groups()` and `backbone()`, and count the images of each
    training step in `epoch_images`; `epoch_started` is when the training epoch began.
    """

    def __init__(self, train_cfg: dict, channels_last: bool = False):
        super().__init__()
        self.train_cfg = train_cfg
        self.channels_last = bool(channels_last)
        self.epoch_images = 0
        self.epoch_started = time.perf_counter()

    @property
    def network(self) -> torch.nn.Module:
        raise NotImplementedError

    def in_layout(self, net: torch.nn.Module) -> torch.nn.Module:
        """`net` in this module's memory layout (NHWC under channels_last)."""
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def batch_in_layout(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of images in this module's memory layout (NHWC under channels_last)."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x

    def forward(self, x):
        return self.network(self.batch_in_layout(x))

    # -- what a subclass says about its network -----------------------------------------------
    def param_groups(self) -> list[tuple[list, float]]:
        """(parameters, learning-rate factor) of each optimiser group, in a fixed order (checkpoints keep it)."""
        raise NotImplementedError

    def backbone(self) -> tuple[list, list]:
        """(parameters, modules) of the pretrained part that stays frozen for `frozen_epochs()` epochs."""
        return [], []

    def frozen_epochs(self) -> int:
        return 0

    # -- per epoch ------------------------------------------------------------------------------
    def on_train_epoch_start(self):
        params, modules = self.backbone()
        frozen = bool(params) and self.current_epoch < self.frozen_epochs()
        for p in params:
            p.requires_grad_(not frozen)
        if frozen:
            for m in modules:
                m.eval()   # keep the pretrained BatchNorm statistics while frozen
        loader = self.trainer.train_dataloader
        dataset = getattr(loader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(self.current_epoch)
        self.epoch_images = 0
        self.epoch_started = time.perf_counter()

    def images_per_second(self) -> float:
        """Training images per second in the epoch so far."""
        seconds = time.perf_counter() - self.epoch_started
        return self.epoch_images / seconds if seconds > 0 else float("nan")

    # -- optimiser and schedule -------------------------------------------------------------------
    def configure_optimizers(self):
        t = self.train_cfg
        groups = [{"params": list(params), "lr": t["lr"] * factor} for params, factor in self.param_groups()]
        opt = build_optimizer(groups, t["optimizer"], t["lr"], t["weight_decay"], t["adamw_weight_decay"])
        return self.schedule(opt, (t["scheduler"] or "none").lower())

    def schedule(self, opt: torch.optim.Optimizer, name: str):
        """cosine (to 1 % of the learning rate over train.epochs) | none."""
        t = self.train_cfg
        if name == "none":
            return opt
        if name == "cosine":
            s = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, int(t["epochs"])), eta_min=t["lr"] * 0.01)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": s, "interval": "epoch"}}
        raise ValueError(f"unknown scheduler {name!r}")

    def on_train_start(self):
        # A resumed run whose epoch count was raised: the cosine schedule stretches to the new
        # length and goes on from the learning rate the longer curve has at this epoch.
        epochs = max(1, int(self.train_cfg["epochs"]))
        for config in self.trainer.lr_scheduler_configs:
            s = config.scheduler
            if isinstance(s, torch.optim.lr_scheduler.CosineAnnealingLR) and s.T_max != epochs:
                s.T_max = epochs
                done = min(int(s.last_epoch), epochs)
                lrs = [s.eta_min + (base - s.eta_min) * (1 + math.cos(math.pi * done / epochs)) / 2
                       for base in s.base_lrs]
                for group, lr in zip(s.optimizer.param_groups, lrs):
                    group["lr"] = lr
                s._last_lr = lrs
