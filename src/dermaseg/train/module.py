"""The Lightning module: one segmentation network, its loss, optimiser and validation metrics."""

from __future__ import annotations

import lightning as L
import torch

from dermaseg.train.losses import build_loss


def batch_image_metrics(logits: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> dict[str, torch.Tensor]:
    """Per-image Dice, Jaccard and pixel accuracy (ISIC conventions: both empty -> 1), averaged over the batch."""
    pred = torch.sigmoid(logits) >= threshold
    truth = target >= 0.5
    dims = tuple(range(1, pred.ndim))
    tp = (pred & truth).sum(dims).double()
    fp = (pred & ~truth).sum(dims).double()
    fn = (~pred & truth).sum(dims).double()
    tn = (~pred & ~truth).sum(dims).double()
    union = tp + fp + fn
    empty = union == 0
    jaccard = torch.where(empty, torch.ones_like(tp), tp / union.clamp(min=1))
    dice = torch.where(empty, torch.ones_like(tp), 2 * tp / (2 * tp + fp + fn).clamp(min=1))
    accuracy = (tp + tn) / (tp + tn + fp + fn)
    return {"dice": dice.mean(), "jaccard": jaccard.mean(), "accuracy": accuracy.mean()}


class SegmentationModule(L.LightningModule):
    def __init__(self, config: dict):
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.config = config
        from dermaseg.models.registry import build_model

        m = config["model"]
        extra = {"decoder_channels": m["decoder_channels"]} if m.get("decoder_channels") else {}
        self.model = build_model(m["arch"], m["encoder"], encoder_weights=m["encoder_weights"],
                                 dropout=m["dropout"], **extra)
        t = config["train"]
        self.channels_last = bool(t.get("channels_last", False))
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss_fn = build_loss(t["loss"], pos_weight=t["pos_weight"])
        self.threshold = float(t["threshold"])

    def forward(self, x):
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)

    # -- encoder freezing (first N epochs), then fine-tuning at a lower LR ----------------------
    def _encoder(self):
        from dermaseg.models.registry import encoder_of

        return encoder_of(self.model)

    def on_train_epoch_start(self):
        frozen = self.current_epoch < int(self.config["train"]["freeze_encoder_epochs"] or 0)
        encoder = self._encoder()
        for p in encoder.parameters():
            p.requires_grad_(not frozen)
        if frozen:
            encoder.eval()  # keep ImageNet BatchNorm statistics while the encoder is frozen
        loader = self.trainer.train_dataloader
        dataset = getattr(loader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(self.current_epoch)

    def training_step(self, batch, batch_idx):
        logits = self(batch["image"])
        loss = self.loss_fn(logits, batch["mask"])
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(logits),
                 sync_dist=True)
        with torch.no_grad():
            dice = batch_image_metrics(logits.detach(), batch["mask"], self.threshold)["dice"]
        return {"loss": loss, "dice": dice}

    def validation_step(self, batch, batch_idx):
        logits = self(batch["image"])
        loss = self.loss_fn(logits, batch["mask"])
        n = len(logits)
        self.log("valid_loss", loss, on_epoch=True, prog_bar=True, batch_size=n, sync_dist=True)
        for name, value in batch_image_metrics(logits, batch["mask"], self.threshold).items():
            self.log(name, value, on_epoch=True, prog_bar=name == "dice", batch_size=n, sync_dist=True)

    def configure_optimizers(self):
        t = self.config["train"]
        encoder_params = {id(p) for p in self._encoder().parameters()}
        groups = [
            {"params": [p for p in self.model.parameters() if id(p) in encoder_params],
             "lr": t["lr"] * (t["encoder_lr_factor"] if self.config["model"]["encoder_weights"]
                              or self.config["model"]["init_from"] else 1.0)},
            {"params": [p for p in self.model.parameters() if id(p) not in encoder_params], "lr": t["lr"]},
        ]
        name = t["optimizer"].lower()
        if name == "adam":
            opt = torch.optim.Adam(groups, lr=t["lr"], weight_decay=t["weight_decay"])
        elif name == "adamw":
            opt = torch.optim.AdamW(groups, lr=t["lr"], weight_decay=t["weight_decay"] or t["adamw_weight_decay"])
        elif name == "sgd":
            opt = torch.optim.SGD(groups, lr=t["lr"], momentum=0.9, nesterov=True, weight_decay=t["weight_decay"])
        else:
            raise ValueError(f"unknown optimizer {name!r}; choose adam, adamw or sgd")
        sched = (t["scheduler"] or "none").lower()
        if sched == "none":
            return opt
        if sched == "cosine":
            s = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, int(t["epochs"])), eta_min=t["lr"] * 0.01)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": s, "interval": "epoch"}}
        if sched == "onecycle":
            steps = int(self.trainer.estimated_stepping_batches)
            s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=max(steps, 1))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": s, "interval": "step"}}
        if sched == "plateau":
            s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=3)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": s, "monitor": "dice", "interval": "epoch"}}
        raise ValueError(f"unknown scheduler {sched!r}; choose cosine, onecycle, plateau or none")
