"""The segmentation Lightning module: one network, its loss and validation metrics, on the shared TaskModule."""

from __future__ import annotations

import torch

from dermaseg.segment.losses import build_loss
from dermaseg.training.base import TaskModule


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


class SegmentationModule(TaskModule):
    def __init__(self, config: dict):
        t = config["train"]
        super().__init__(t, channels_last=bool(t.get("channels_last", False)))
        self.save_hyperparameters({"config": config})
        self.config = config
        from dermaseg.models.registry import build_model

        m = config["model"]
        extra = {"decoder_channels": m["decoder_channels"]} if m.get("decoder_channels") else {}
        self.model = self.in_layout(build_model(m["arch"], m["encoder"], encoder_weights=m["encoder_weights"],
                                                dropout=m["dropout"], **extra))
        self.loss_fn = build_loss(t["loss"], pos_weight=t["pos_weight"])
        self.threshold = float(t["threshold"])

    @property
    def network(self):
        return self.model

    # -- encoder frozen for the first N epochs, then fine-tuned at a lower LR ----------------------
    def _encoder(self):
        from dermaseg.models.registry import encoder_of

        return encoder_of(self.model)

    def backbone(self):
        encoder = self._encoder()
        return list(encoder.parameters()), [encoder]

    def frozen_epochs(self) -> int:
        return int(self.train_cfg["freeze_encoder_epochs"] or 0)

    def param_groups(self):
        m = self.config["model"]
        encoder_params = {id(p) for p in self._encoder().parameters()}
        factor = self.train_cfg["encoder_lr_factor"] if m["encoder_weights"] or m["init_from"] else 1.0
        return [([p for p in self.model.parameters() if id(p) in encoder_params], factor),
                ([p for p in self.model.parameters() if id(p) not in encoder_params], 1.0)]

    def schedule(self, opt, name: str):
        """cosine | onecycle | plateau (on validation Dice) | none."""
        if name == "onecycle":
            steps = int(self.trainer.estimated_stepping_batches)
            s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in opt.param_groups],
                                                    total_steps=max(steps, 1))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": s, "interval": "step"}}
        if name == "plateau":
            s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=3)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": s, "monitor": "dice", "interval": "epoch"}}
        return super().schedule(opt, name)

    def training_step(self, batch, batch_idx):
        if hasattr(self.model, "detection_loss"):
            return self._detection_step(batch)
        logits = self(batch["image"])
        loss = self.loss_fn(logits, batch["mask"])
        self._record_train_loss(loss, len(logits))
        with torch.no_grad():
            dice = batch_image_metrics(logits.detach(), batch["mask"], self.threshold)["dice"]
        return {"loss": loss, "dice": dice}

    def _detection_step(self, batch):
        """A detector (Mask R-CNN) trains on its own objective: RPN, box and mask losses, one
        instance per lesion component. The recipe's pixel loss would leave the RPN and the box
        regressor untrained (box coordinates carry no gradient to a mask). Its training path
        returns no masks, so the epoch's train Dice is not measured (NaN); validation scores
        the merged masks like any other network."""
        losses = self.model.detection_loss(self.batch_in_layout(batch["image"]), batch["mask"])
        loss = sum(losses.values())
        self._record_train_loss(loss, len(batch["image"]))
        return {"loss": loss, "dice": torch.tensor(float("nan"))}

    def _record_train_loss(self, loss: torch.Tensor, n: int) -> None:
        self.epoch_images += n
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=n, sync_dist=True)

    def validation_step(self, batch, batch_idx):
        logits = self(batch["image"])
        loss = self.loss_fn(logits, batch["mask"])
        n = len(logits)
        self.log("valid_loss", loss, on_epoch=True, prog_bar=True, batch_size=n, sync_dist=True)
        for name, value in batch_image_metrics(logits, batch["mask"], self.threshold).items():
            self.log(name, value, on_epoch=True, prog_bar=name == "dice", batch_size=n, sync_dist=True)
