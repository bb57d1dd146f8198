"""Training pieces: datasets over cached arrays, the Lightning module, per-epoch validation."""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint

from dermaseg.classify.data import dihedral
from dermaseg.classify.metrics import accuracy_balanced_mean, classification_metrics
from dermaseg.training.base import TaskModule
from dermaseg.training.curves import classification_curves, plot_learning_curves, record_epoch
from dermaseg.transforms.augment import sample_rng
from dermaseg.transforms.pipeline import normalise_image


class _EpochAware(torch.utils.data.Dataset):
    epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)


class CachedFeatureDataset(_EpochAware):
    """Item j: a random view (seeded by seed, epoch, row) of row `rows[j]`'s cached features."""

    def __init__(self, views: list[np.ndarray], rows, labels, seed: int = 0):
        self.views, self.rows, self.labels, self.seed = views, np.asarray(rows), np.asarray(labels), int(seed)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, j):
        row = int(self.rows[j])
        v = int(sample_rng(self.seed, self.epoch, j).integers(len(self.views))) if len(self.views) > 1 else 0
        x = torch.from_numpy(np.asarray(self.views[v][row], dtype=np.float32))
        return x, int(self.labels[row])


class ImageDataset(_EpochAware):
    """Item j: prepared uint8 image `rows[j]`, a random dihedral view, then the augmentation."""

    def __init__(self, images: np.ndarray, rows, labels, normalise: str, augment: dict | None, seed: int = 0):
        self.images, self.rows, self.labels = images, np.asarray(rows), np.asarray(labels)
        self.normalise, self.seed = normalise, int(seed)
        self.compose = None
        if augment:
            from dermaseg.transforms.augment import build_augment

            self.compose = build_augment(augment, seed)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, j):
        row = int(self.rows[j])
        rng = sample_rng(self.seed, self.epoch, j)
        image = np.ascontiguousarray(dihedral(np.asarray(self.images[row]), int(rng.integers(8))))
        if self.compose is not None:
            from dermaseg.transforms.augment import reseed

            reseed(self.compose, self.seed, self.epoch, j)
            image = self.compose(image=image)["image"]
        return torch.from_numpy(normalise_image(image, self.normalise)), int(self.labels[row])


class ClassifierModule(TaskModule):
    """Cross-entropy training of `net` (a Tail on cached features, or a whole network).

    `backbone_params` (whole-network mode) get `lr * backbone_lr_factor` and stay frozen,
    BatchNorm statistics included, for the first `freeze_epochs` epochs. `channels_last`: the
    network is in NHWC memory layout and its inputs are put in the same layout.
    """

    def __init__(self, net: torch.nn.Module, head_params: list, backbone_params: list, train_cfg: dict,
                 loss_weights: np.ndarray | None = None, frozen_modules: list | None = None,
                 backbone_modules: list | None = None, channels_last: bool = False):
        super().__init__(train_cfg, channels_last)
        self.backbone_modules = backbone_modules or []
        self.net = self.in_layout(net)
        self.head_params, self.backbone_params = head_params, backbone_params
        self.frozen_modules = frozen_modules or []
        weight = torch.tensor(loss_weights, dtype=torch.float32) if loss_weights is not None else None
        self.loss_fn = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=float(train_cfg["label_smoothing"]))
        self.epoch_losses: list[float] = []

    @property
    def network(self):
        return self.net

    def backbone(self):
        return self.backbone_params, self.backbone_modules

    def frozen_epochs(self) -> int:
        return int(self.train_cfg["freeze_epochs"] or 0)

    def param_groups(self):
        groups = [(self.head_params, 1.0)]
        if self.backbone_params:
            groups.append((self.backbone_params, float(self.train_cfg["backbone_lr_factor"])))
        return groups

    def on_train_epoch_start(self):
        # Lightning keeps modules in the mode it finds them (feature caching and validation switch
        # to eval): training mode for what trains, eval for the frozen parts.
        self.net.train()
        super().on_train_epoch_start()
        for m in self.frozen_modules:
            m.eval()   # the cached prefix keeps ImageNet BatchNorm statistics
        self.epoch_losses = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.epoch_losses.append(float(loss.detach()))
        self.epoch_images += len(y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        return loss


HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "val_accuracy", "val_balanced_accuracy",
                   "val_accuracy_balanced_mean", "val_macro_f1", "lr", "seconds", "images_per_second"]


class Validation(L.Callback):
    """After each training epoch: validation figures, history.csv, learning curves, best state kept.

    Its state (the history rows and the best epoch with its weights and figures) travels in
    Lightning checkpoints, so that a resumed run goes on with the same history and best epoch.
    `echo`: one line per epoch on stderr (losses, figures, seconds, training images per second).
    """

    def __init__(self, predict_val, val_labels, class_names, run_dir: Path, select: str = "balanced_accuracy",
                 echo: bool = False):
        self.predict_val = predict_val        # () -> probabilities (n_val, k)
        self.val_labels = np.asarray(val_labels)
        self.class_names = class_names
        self.run_dir = Path(run_dir)
        self.select = select
        self.echo = echo
        self.best_score = -math.inf
        self.best_epoch = None
        self.best_state = None
        self.best_metrics = None
        self.rows: list[dict] = []

    def state_dict(self) -> dict:
        # tensors and JSON text only: the checkpoint loads with torch.load(weights_only=True)
        return {"best_score": float(self.best_score), "best_epoch": self.best_epoch, "best_state": self.best_state,
                "best_metrics": json.dumps(self.best_metrics), "rows": json.dumps(self.rows)}

    def load_state_dict(self, state: dict) -> None:
        self.best_score, self.best_epoch = float(state["best_score"]), state["best_epoch"]
        self.best_state = state["best_state"]
        self.best_metrics = json.loads(state["best_metrics"])
        self.rows = json.loads(state["rows"])

    def on_train_epoch_end(self, trainer, pl_module):
        images_per_second = pl_module.images_per_second()   # training only, before validation
        probs = self.predict_val()
        m = classification_metrics(self.val_labels, probs, self.class_names)
        m["accuracy_balanced_mean"] = accuracy_balanced_mean(m)
        p = np.clip(probs[np.arange(len(self.val_labels)), self.val_labels], 1e-12, 1.0)
        val_loss = float(-np.log(p).mean())
        row = {"epoch": trainer.current_epoch,
               "train_loss": float(np.mean(pl_module.epoch_losses)) if pl_module.epoch_losses else float("nan"),
               "val_loss": val_loss, "val_accuracy": m["accuracy"],
               "val_balanced_accuracy": m["balanced_accuracy"],
               "val_accuracy_balanced_mean": m["accuracy_balanced_mean"], "val_macro_f1": m["macro_f1"],
               "lr": trainer.optimizers[0].param_groups[0]["lr"],
               "seconds": round(time.perf_counter() - pl_module.epoch_started, 1),
               "images_per_second": round(images_per_second, 2)}
        self.rows = record_epoch(self.run_dir / "history.csv", row, HISTORY_COLUMNS, earlier=self.rows)
        plot_learning_curves(self.run_dir / "history.csv", self.run_dir / "learning_curves.png",
                             classification_curves(self.select))
        score = -val_loss if self.select == "loss" else m[self.select]
        improved = score > self.best_score
        if improved:
            self.best_score, self.best_epoch, self.best_metrics = score, trainer.current_epoch, m
            self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in pl_module.net.state_dict().items()})
        if self.echo:
            print(f"epoch {row['epoch'] + 1}/{trainer.max_epochs}: train loss {row['train_loss']:.4f}, "
                  f"val loss {val_loss:.4f}, accuracy {m['accuracy']:.3f}, balanced accuracy "
                  f"{m['balanced_accuracy']:.3f}{' (best so far)' if improved else ''}; {row['seconds']:.0f} s, "
                  f"{row['images_per_second']:.1f} training images/s", file=sys.stderr, flush=True)
        pl_module.log("val_balanced_accuracy", m["balanced_accuracy"], prog_bar=True)
        pl_module.log("val_accuracy", m["accuracy"], prog_bar=True)


class SamplingState(L.Callback):
    """Keeps the training sampler's generator and torch's global RNG in Lightning checkpoints.

    Which images an epoch draws, and the dropout masks, then go on after a resume as they
    would have without the interruption.
    """

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def state_dict(self) -> dict:
        state = {"generator": self.generator.get_state(), "torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


class EpochCheckpoint(Checkpoint):
    """Writes the full training state to `path` after every epoch (atomically: a tmp file renamed).

    A Checkpoint subclass, so Lightning runs it after the other callbacks (the checkpoint
    holds the epoch's history row and best state) and adds no default ModelCheckpoint.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_train_epoch_end(self, trainer, pl_module):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        trainer.save_checkpoint(tmp, weights_only=False)   # everything, optimiser and loops included
        tmp.replace(self.path)
