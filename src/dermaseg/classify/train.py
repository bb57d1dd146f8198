"""`dermaseg classify train`: one run folder from a recipe.

The run folder holds config.yaml (resolved), environment.json (seed, versions, command),
split.csv, history.csv and learning_curves.png (per epoch), model.pt (the kept epoch's
classifier: enough to predict), metrics.json (held-out test figures, and validation ones),
predictions.csv (per test image: true class, predicted class, prob_<class>),
confusion_matrix.png (counts and normalised) and summary.json, written last: a folder with
summary.json is a finished run.

Two training modes (train.trainable_stages):
- an integer N: the network's first stages stay frozen at their ImageNet weights; their output
  for every image and view is computed once and cached, and only the last N stages and the
  classifier train (N = 0: a linear probe). This is what makes CPU training affordable.
- ``all``: the whole network fine-tunes on images (classifier-only for `freeze_epochs` first),
  on a CUDA GPU when present (train.accelerator), in bf16 mixed precision where the GPU or CPU
  runs it natively (train.precision) and in NHWC memory layout (train.channels_last). After
  each epoch checkpoints/last.ckpt holds everything needed to go on (weights, optimiser,
  schedule, sampler, the history and the best epoch so far); running the same command again
  on the folder resumes from it, and a run whose train.epochs or train.max_time_minutes was
  raised goes on from where it stopped (the cosine schedule stretched to the new length). The
  time limit counts all the sessions of a run together. The kept epoch is chosen on
  validation figures computed at the training precision; the held-out figures and
  predictions.csv are computed in fp32, as the model file predicts.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from dermaseg.classify import labels as L_
from dermaseg.classify.config import SCHEMA, pipeline_dict
from dermaseg.classify.predictions import write_predictions
from dermaseg.classify.splits import select_records, split_mapping
from dermaseg.data.splits import write_split
from dermaseg.training.runfolder import default_precision, uses_gpu, write_config, write_environment


def make_cropper(config: dict):
    d = config["data"]
    if d["crop"] == "none":
        return None
    from dermaseg.classify.crop import LesionCropper

    return LesionCropper(d["crop"], d["segmenter"], d["crop_margin"])


# Keys a resumed whole-network run may change: how long it trains, not what it trains.
BUDGET_KEYS = ("epochs", "max_time_minutes")


def device_and_precision(config: dict) -> tuple[str, str]:
    """(Lightning accelerator, precision) of a run: the CPU in fp32 for the cached mode."""
    import torch

    t = config["train"]
    if t["trainable_stages"] != "all":
        return "cpu", "32-true"
    accelerator = t["accelerator"]
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ValueError(f"train.accelerator is {accelerator!r} but torch finds no CUDA GPU; use auto or cpu")
    device = "gpu" if uses_gpu(accelerator) else "cpu"
    precision = t["precision"] or default_precision(accelerator)
    if device == "cpu" and precision == "16-mixed":
        raise ValueError("train.precision 16-mixed needs a CUDA GPU; on the CPU use bf16-mixed or 32-true")
    return device, precision


def describe_device(device: str) -> str:
    import torch

    if device == "gpu":
        return f"GPU ({torch.cuda.get_device_name(0)})"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'' if n == 1 else 's'})"


def train_classifier(config: dict, run_dir: Path | str) -> dict:
    """Fit one classifier, evaluate it on the held-out test split, write the run folder."""
    import lightning as L
    import torch

    from dermaseg.classify.features import compute_features, features_key
    from dermaseg.classify.inference import predict_cached, predict_images
    from dermaseg.classify.metrics import classification_metrics, summary_line
    from dermaseg.models.classifier import build_classifier, head_parameters, split_model, stages
    from dermaseg.classify.modelfile import save_classifier
    from dermaseg.classify.module import CachedFeatureDataset, ClassifierModule, ImageDataset, Validation
    from dermaseg.classify.data import load_images
    from dermaseg.classify.plots import plot_confusion
    from dermaseg.classify.sampling import plan
    from dermaseg.transforms.pipeline import PipelineConfig

    import logging
    import warnings

    # Lightning's banner lines (GPU available: False ...) and its note about the frozen prefix's
    # eval-mode modules (intended: they keep ImageNet BatchNorm statistics) are noise here.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")

    started = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    t, d, m = config["train"], config["data"], config["model"]
    cached = t["trainable_stages"] != "all"
    last_ckpt = run_dir / "checkpoints" / "last.ckpt"
    resume_from = last_ckpt if not cached and last_ckpt.is_file() else None
    if resume_from and not (run_dir / "config.yaml").exists():
        raise ValueError(f"{run_dir} holds {resume_from} but no config.yaml; use another --out folder")
    write_config(run_dir, config, SCHEMA, "use another --out folder (a whole-network run with a checkpoint may "
                 f"change only {' and '.join('train.' + k for k in BUDGET_KEYS)} to go on)",
                 may_change=BUDGET_KEYS if resume_from else ())
    write_environment(run_dir, config, resume_from)
    if t["threads"]:
        torch.set_num_threads(int(t["threads"]))
    device, precision = device_and_precision(config)
    seed = int(config["seed"])
    L.seed_everything(seed, workers=True, verbose=False)
    progress = bool(t["progress"])

    # data: records, split, decoded images
    ds, records, names = select_records(config)
    mapping = split_mapping(config, records, run_dir)
    write_split(run_dir / "split.csv", mapping)
    records = [r for r in records if r.image_id in mapping]
    pipe = PipelineConfig.from_dict(pipeline_dict(config))
    cropper = make_cropper(config)
    ids, images, images_key = load_images(ds, records, pipe, cropper=cropper, cache_dir=d["cache_dir"],
                                          progress=progress)
    row_of = {image_id: i for i, image_id in enumerate(ids)}
    by_id = {r.image_id: r for r in records}
    y = np.array(L_.targets([by_id[i] for i in ids], names, d["task"]), dtype=np.int64)
    rows = {part: np.array([row_of[i] for i in sorted(mapping) if mapping[i] == part and i in row_of], dtype=np.int64)
            for part in ("train", "val", "test")}
    if not len(rows["train"]) or not len(rows["val"]):
        raise ValueError(f"the split leaves no training or validation images ({ {k: len(v) for k, v in rows.items()} })")
    if not len(rows["test"]):
        rows["test"] = rows["val"]   # a train:val split file: report on validation, and say so below
    sampling = plan(y[rows["train"]], len(names), t["sampling"], seed, float(t["class_weight_power"]))

    # network: whole, or frozen prefix (cached) + trainable tail
    model = build_classifier(m["backbone"], len(names), m["weights"], m["dropout"], m["head_init"])
    tta = int(t["tta_views"])
    channels_last = not cached and bool(t["channels_last"])
    epoch_rows = rows["train"][sampling.indices]   # resampled training rows (all of them for the others)
    if cached:
        prefix, tail = split_model(model, int(t["trainable_stages"]))
        trainable = {id(p) for p in tail.trainable_parameters()}
        for p in model.parameters():
            p.requires_grad_(id(p) in trainable)
        extra_augment = t["augment"] if int(t["views"]) > 8 else None
        fkey = features_key(images_key, m["backbone"], m["weights"], int(t["trainable_stages"]), pipe.normalise,
                            extra_augment, seed)
        views = compute_features(prefix, images, pipe.normalise, Path(d["cache_dir"]) / "features" / fkey,
                                 int(t["views"]), augment=extra_augment, seed=seed, progress=progress)
        train_set = CachedFeatureDataset(views, epoch_rows, y, seed)
        # pretrained stages at lr * backbone_lr_factor (frozen for freeze_epochs), the new classifier at lr
        stage_units = list(tail.units or [])
        stage_params = [p for u in stage_units for p in u.parameters()]
        stage_ids = {id(p) for p in stage_params}
        head = [p for p in tail.trainable_parameters() if id(p) not in stage_ids]
        module = ClassifierModule(tail, head, stage_params, t, sampling.loss_weights,
                                  frozen_modules=list(prefix.units or []), backbone_modules=stage_units)

        def predict_rows(r):
            return predict_cached(tail, views, r, tta)
    else:
        train_set = ImageDataset(images, epoch_rows, y, pipe.normalise, t["augment"], seed)
        head = head_parameters(model)
        head_ids = {id(p) for p in head}
        backbone = [p for p in model.parameters() if id(p) not in head_ids]
        module = ClassifierModule(model, head, backbone, t, sampling.loss_weights, backbone_modules=stages(model),
                                  channels_last=channels_last)

        def predict_rows(r, precision=None, views=tta):
            return predict_images(model, [images[i] for i in r], pipe.normalise, views, precision=precision,
                                  channels_last=channels_last)

    # which training images an epoch sees: one pass over the (resampled) set, or a fixed number of
    # draws (samples_per_epoch), so that techniques compare at equal compute
    gen = torch.Generator().manual_seed(seed)
    n_epoch = int(t["samples_per_epoch"]) if t["samples_per_epoch"] else None
    if sampling.draw_weights is not None:
        sampler = torch.utils.data.WeightedRandomSampler(torch.as_tensor(sampling.draw_weights),
                                                         n_epoch or len(train_set), replacement=True, generator=gen)
    else:   # more draws than images: whole shuffled passes, then part of one
        sampler = torch.utils.data.RandomSampler(train_set, num_samples=n_epoch, generator=gen)
    loader = torch.utils.data.DataLoader(train_set, batch_size=int(t["batch_size"]), sampler=sampler,
                                         num_workers=int(t["num_workers"]),
                                         persistent_workers=int(t["num_workers"]) > 0,
                                         drop_last=len(sampler) > int(t["batch_size"]))

    if cached:
        validation = Validation(lambda: predict_rows(rows["val"]), y[rows["val"]], names, run_dir, t["select"],
                                echo=True)
        callbacks = [validation]
    else:
        from dermaseg.classify.module import EpochCheckpoint, SamplingState

        val_views = int(t["val_tta_views"] or tta)
        validation = Validation(lambda: predict_rows(rows["val"], precision, val_views), y[rows["val"]], names,
                                run_dir, t["select"], echo=True)
        # last.ckpt after every epoch (after Validation has updated the best epoch): the resume point
        callbacks = [validation, SamplingState(gen), EpochCheckpoint(last_ckpt)]
    what = f"cached features, last {t['trainable_stages']} stage(s) trained" if cached else "whole network"
    print(f"classify: {what} on {describe_device(device)}, precision {precision}"
          + (", channels_last" if channels_last else "")
          + (f"; resuming from {resume_from}" if resume_from else ""), file=sys.stderr, flush=True)
    trainer = L.Trainer(max_epochs=int(t["epochs"]), accelerator=device, devices=1, precision=precision,
                        logger=False, enable_checkpointing=not cached, enable_model_summary=False,
                        enable_progress_bar=progress, num_sanity_val_steps=0, callbacks=callbacks,
                        default_root_dir=run_dir,
                        max_time=timedelta(minutes=float(t["max_time_minutes"])) if t["max_time_minutes"] else None)
    fit_start = time.perf_counter()
    trainer.fit(module, loader, ckpt_path=str(resume_from) if resume_from else None)
    fit_seconds = time.perf_counter() - fit_start
    if validation.best_state is None:
        raise ValueError("training stopped before the first epoch finished; nothing to keep")
    module.net.load_state_dict(validation.best_state)

    # held-out figures with the kept epoch, in fp32 as the model file predicts (on the GPU if one trained)
    if device == "gpu":
        model.to("cuda")
    probs = predict_rows(rows["test"])
    model.cpu()
    test_metrics = classification_metrics(y[rows["test"]], probs, names)
    test_ids = [ids[i] for i in rows["test"]]
    write_predictions(run_dir / "predictions.csv", test_ids, y[rows["test"]], probs, names)
    test_name = "test" if (np.asarray(list(mapping.values())) == "test").any() else "val"
    plot_confusion(test_metrics["confusion_matrix"], names, run_dir / "confusion_matrix.png",
                   title=f"{test_name}: accuracy {test_metrics['accuracy']:.3f}, "
                         f"balanced accuracy {test_metrics['balanced_accuracy']:.3f}")
    by_source = _test_by_source(config, records, test_ids, y[rows["test"]], probs, names)
    counts = {part: {names[c]: int(n) for c, n in enumerate(np.bincount(y[r], minlength=len(names)))}
              for part, r in rows.items()}
    recipe = "cached frozen prefix, trainable last {} stage(s)".format(t["trainable_stages"]) if cached \
        else "whole network fine-tuned"
    info = {
        "recipe": recipe, "data_root": str(d["root"]), "task": d["task"],
        "split": {"ratios": str(d["ratios"]), "mode": d["split"], "split_seed": int(d["split_seed"]),
                  "val_fraction": float(d["val_fraction"]), "limit_images": d["limit_images"], "seed": seed,
                  "split_file": d["split_file"], "n_test": len(test_ids), "reported_on": test_name,
                  "joint": [str(r) for r in d["joint"] or []], "class_map": dict(d["class_map"]),
                  "n_test_by_source": {k: v["n"] for k, v in by_source.items()}},
        "sampling": t["sampling"], "best_epoch": validation.best_epoch, "precision": precision,
        "val": _headline(validation.best_metrics), test_name: _headline(test_metrics),
    }
    crop = cropper.describe() if cropper is not None else None
    save_classifier(run_dir / "model.pt", model, backbone=m["backbone"], class_names=names, task=d["task"],
                    dropout=float(m["dropout"]), pipeline=pipe.to_dict(), tta_views=tta, crop=crop, info=info)
    metrics = {"split": test_name, test_name: test_metrics, "val": validation.best_metrics,
               "best_epoch": validation.best_epoch, "class_counts": counts, f"{test_name}_by_source": by_source,
               "epoch_class_counts": {names[c]: round(float(n), 1)
                                      for c, n in enumerate(sampling.epoch_counts(y[rows["train"]], len(names)))}}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    summary = {"run_dir": str(run_dir), "recipe": recipe, "sampling": t["sampling"], "backbone": m["backbone"],
               "ratios": str(d["ratios"]), "split": d["split"], "seed": seed, "epochs_run": len(validation.rows),
               "best_epoch": validation.best_epoch, "device": describe_device(device), "precision": precision,
               "resumed_from": str(resume_from) if resume_from else None,
               "fit_seconds": round(fit_seconds, 1),   # this session; history.csv has every epoch's seconds
               "total_seconds": round(time.perf_counter() - started, 1),
               "n_train": int(len(rows["train"])), "n_val": int(len(rows["val"])), "n_test": len(test_ids),
               "evaluated_on": test_name, **_headline(test_metrics)}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{test_name}: {summary_line(test_metrics)}  ->  {run_dir / 'model.pt'}", file=sys.stderr)
    return summary


def _test_by_source(config: dict, records, test_ids, y, probs, names) -> dict:
    """Held-out headline figures of each source of a joint run (and melanoma AUC where it applies)."""
    from dermaseg.classify.metrics import classification_metrics

    d = config["data"]
    if not d["joint"]:
        return {}
    source_of = {r.image_id: r.labels.get("source", str(d["root"])) for r in records}
    out = {}
    for source in [str(d["root"]), *(str(r) for r in d["joint"])]:
        keep = [k for k, i in enumerate(test_ids) if source_of[i] == source]
        if not keep:
            continue
        m = classification_metrics(y[keep], probs[keep], names)
        mel = [n for n in names if n in L_.MELANOMA_NAMES]
        out[source] = {**_headline(m), "melanoma_auc": m["per_class"][mel[0]]["auc"] if mel else None}
    return out


def _headline(m: dict | None) -> dict:
    if not m:
        return {}
    return {k: m[k] for k in ("n", "accuracy", "balanced_accuracy", "macro_f1", "macro_auc")}
