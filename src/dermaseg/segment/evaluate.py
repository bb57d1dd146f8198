"""`dermaseg evaluate`: score the masks `dermaseg predict` writes with the ISIC metrics.

Each image goes through predict's own inference path (Segmenter.load and segment_batch: the same
reduced-scale decoding, working resolution, post-processing and second look at small lesions),
and its full-size mask is scored against the truth at the image's own resolution; so the figures
are those of the masks users get. Only `ensemble` (two models averaged, which predict does not
do) scores full-resolution probabilities instead.

Writes into the output folder: masks/<id>_segmentation.png, per_image.csv, summary.json,
confusion_matrix.png, dice_histogram.png, worst_cases.png and, with `compare`, options.csv /
options.md: the measured effect of flip TTA, post-processing and a threshold tuned on the
validation split, each with its cost in milliseconds per image. `ensemble` averages a second
model's probabilities with the first; `exclude` names a split file whose training images are
never scored (a model must not be graded on what it learnt from).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2

from dermaseg.data.io import ImageReadError
from dermaseg.data.quality import DataQualityWarning
from dermaseg.data.readers import open_dataset
from dermaseg.data.splits import read_split
from dermaseg.segment.metrics import image_metrics, summarise
from dermaseg.segment.outline_quality import check_outline, mask_quality
from dermaseg.segment.zoom import DEFAULT_ZOOM_BELOW
from dermaseg.transforms.pipeline import restore_size

TRAINING_SPLITS = {"train", "val", "extra_train"}


def _default_split_file(segmenter) -> Path | None:
    run_dir = segmenter.backend.meta.get("info", {}).get("run_dir")
    if run_dir and (Path(run_dir) / "split.csv").is_file():
        return Path(run_dir) / "split.csv"
    return None


def evaluate(model, data_root, out_dir, *, split: str | None = "test", split_file=None, tta: bool = False,
             postprocess: bool = True, threshold: float | None = None, tune_threshold: bool = False,
             compare: bool = False, limit: int | None = None, write_masks: bool = True, ensemble=None,
             exclude=None, zoom_below: float | None = DEFAULT_ZOOM_BELOW, backend: str = "auto",
             precision: str = "auto", second_look_model=None) -> dict:
    import warnings

    from tqdm import tqdm

    from dermaseg.segment.metrics import ThresholdSweep
    from dermaseg.segment.report import ReportBuilder
    from dermaseg.segment.postprocess import clean_mask
    from dermaseg.data.encode import write_png
    from dermaseg.data.inputs import prepare_output_dir
    from dermaseg.segment.segmenter import Segmenter

    out_dir = prepare_output_dir(out_dir)  # before any work: a bad --out fails in a second, not after the run
    (out_dir / "masks").mkdir(parents=True, exist_ok=True)
    seg = Segmenter(model, tta=tta, threshold=threshold, postprocess=postprocess, zoom_below=zoom_below,
                    backend=backend, precision=precision, second_look_model=second_look_model)
    partner = Segmenter(ensemble) if ensemble else None
    if partner is not None and (partner.pipeline.keep_aspect or seg.pipeline.keep_aspect):
        raise ValueError("ensembling averages squashed-square probabilities: both models need keep_aspect false")
    ds = open_dataset(data_root, require_masks=True)
    split_file = Path(split_file) if split_file else _default_split_file(seg)
    mapping = read_split(split_file) if split_file else None
    known = {r.image_id for r in ds.records}

    def ids_of(name):
        if mapping is None or name is None:
            return [r.image_id for r in ds.records]
        ids = sorted(i for i, s in mapping.items() if s == name and i in known)
        if not ids:
            raise ValueError(f"{split_file}: no images of split {name!r} found in {data_root}")
        return ids

    test_ids = ids_of(split)
    if exclude:
        seen = {i for i, s in read_split(exclude).items() if s in TRAINING_SPLITS}
        test_ids = [i for i in test_ids if i not in seen]
    test_ids = test_ids[:limit] if limit else test_ids
    cost = {"plain": 0.0, "tta": 0.0, "restore": 0.0, "postprocess": 0.0, "predict": 0.0}  # seconds, summed

    def predicted(item, use_tta, t, post):
        """The mask `dermaseg predict` writes for this image with these options (the same decoding,
        working size, post-processing and second look: Segmenter.segment_batch), its mask quality,
        the seconds it took and its stages' ms."""
        saved = (seg.tta, seg.threshold, seg.postprocess)
        seg.tta, seg.threshold, seg.postprocess = use_tta, t, post
        try:
            t0 = time.perf_counter()
            result = seg.segment_batch([item])[0]
            mask = result.mask
            return mask, result.mask_quality, time.perf_counter() - t0, result.timings_ms
        finally:
            seg.tta, seg.threshold, seg.postprocess = saved

    def network(image, use_tta):
        """Probability at model resolution: this model, averaged with the partner's when ensembling."""
        seg.tta = use_tta
        (prob, meta), = seg.predict_small([image])
        if partner is not None:
            partner.tta = use_tta
            (other, _), = partner.predict_small([image])
            if other.shape != prob.shape:
                other = cv2.resize(other, prob.shape[::-1], interpolation=cv2.INTER_LINEAR)
            prob = (prob + other) / 2.0
        return prob, meta

    def probs_for(image):
        """(plain, tta) probabilities at model resolution, and the resize geometry."""
        t0 = time.perf_counter()
        plain, meta = network(image, False)
        t1 = time.perf_counter()
        cost["plain"] += t1 - t0
        tta_prob = None
        if tta or compare:
            tta_prob, _ = network(image, True)
            cost["tta"] += time.perf_counter() - t1
        seg.tta = tta
        return plain, tta_prob, meta

    def masks_from(prob, meta, shape, t, post):
        saved = seg.threshold
        seg.threshold = t
        t0 = time.perf_counter()
        mask = seg.to_full_mask(prob, meta, shape)
        t1 = time.perf_counter()
        seg.threshold = saved
        if post:
            mask = clean_mask(mask)
        return mask, t1 - t0, time.perf_counter() - t1

    tuned = None
    if tune_threshold or compare:
        if mapping is None or "val" not in mapping.values():
            print("evaluate: no validation split to tune the threshold on; keeping the model's", file=sys.stderr)
        else:
            sweep = ThresholdSweep()
            for image_id in tqdm(ids_of("val"), desc="tuning threshold on val", unit="img", file=sys.stderr):
                sample = ds.try_load(ds.record(image_id))
                if sample is None:
                    continue
                plain, tta_prob, meta = probs_for(sample.image)
                sweep.add(sample.mask > 0, restore_size(tta_prob if tta else plain, meta))
            tuned, _ = sweep.best("jaccard")
    chosen_threshold = tuned if (tune_threshold and tuned is not None) else seg.threshold

    variants = {}
    if compare:
        variants = {"plain": (False, False, seg.threshold), "postprocess": (False, True, seg.threshold),
                    "tta": (True, False, seg.threshold), "tta+postprocess": (True, True, seg.threshold)}
        if tuned is not None:
            variants[f"chosen options, threshold tuned on val ({tuned:.2f})"] = (tta, postprocess, tuned)
    variant_rows = {name: [] for name in variants}

    builder = ReportBuilder(n_worst=12)
    skipped = []
    variant_seconds = {name: 0.0 for name in variants}
    stage_ms: dict[str, float] = {}
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # reported below, per file, once
        for image_id in tqdm(test_ids, desc=f"evaluating {split or 'all'}", unit="img", file=sys.stderr):
            record = ds.record(image_id)
            try:
                sample = ds.load(record)   # the truth (and checks); the prediction decodes as predict does
                item = seg.load(record.image_path) if partner is None else None
            except (ImageReadError, ValueError) as exc:
                skipped.append({"image_id": image_id, "error": str(exc)})
                continue
            shape = sample.image.shape[:2]
            if partner is None:
                pred, quality, seconds, timings = predicted(item, tta, chosen_threshold, postprocess)
                cost["predict"] += seconds
                for k, v in timings.items():
                    stage_ms[k] = stage_ms.get(k, 0.0) + v
            else:
                plain, tta_prob, meta = probs_for(sample.image)
                pred, restore_s, post_s = masks_from(tta_prob if tta else plain, meta, shape, chosen_threshold,
                                                     postprocess)
                cost["restore"] += restore_s
                cost["postprocess"] += post_s
                quality = mask_quality(tta_prob if tta else plain, meta.pad, meta.resized_shape, chosen_threshold)
            builder.add(image_id, sample.image, sample.mask, pred, mask_quality=quality,
                        check_outline=check_outline(quality))
            if write_masks:
                write_png(out_dir / "masks" / f"{image_id}_segmentation.png", pred)
            for name, (v_tta, v_post, v_t) in variants.items():
                if partner is None:
                    v_pred, _, seconds, _ = predicted(item, v_tta, v_t, v_post)
                    variant_seconds[name] += seconds
                else:
                    v_pred = masks_from(tta_prob if v_tta else plain, meta, shape, v_t, v_post)[0]
                variant_rows[name].append(image_metrics(sample.mask, v_pred))
    for s in skipped:
        print(f"evaluate: skipped {s['image_id']}: {s['error']}", file=sys.stderr)
    n = max(1, len(test_ids) - len(skipped))
    ms = {k: round(v * 1000 / n, 1) for k, v in cost.items()}
    if partner is None:   # predict's own path: its stages as it times them
        per_image = ms["predict"]
        ms = {"predict": ms["predict"], **{k: round(v / n, 1) for k, v in stage_ms.items()}}
    else:
        per_image = round(ms["tta" if tta else "plain"] + ms["restore"] + (ms["postprocess"] if postprocess else 0), 1)
    extra = {
        "model": str(seg.path), "backend": seg.backend_name, "ensemble_with": str(partner.path) if partner else None,
        "exclude": str(exclude) if exclude else None,
        "inference_path": "predict's (same decoding, working size, post-processing and second look)"
                          if partner is None else "full-resolution probabilities (ensemble of two models)",
        "zoom_below": seg.zoom_below, "second_look_model": seg.second_look_name,
        "ms_per_image": per_image,
        "ms_per_stage": ms, "data": str(data_root), "split": split, "split_file": str(split_file) if split_file else None,
        "threshold": chosen_threshold, "tuned_threshold": tuned,
        "options": {"tta": tta, "postprocess": postprocess, "input_size": seg.input_size},
        "skipped": skipped, "seconds": round(time.perf_counter() - started, 1),
    }
    extra["outline_check"] = outline_check_figures(builder.rows)
    summary = builder.finish(out_dir, extra_summary=extra)
    o = extra["outline_check"]
    if o and None not in (o["spearman_with_jaccard"], o["mean_jaccard_flagged"], o["mean_jaccard_rest"]):
        print(f"mask quality: Spearman {o['spearman_with_jaccard']:.3f} with the Jaccard index; check_outline on "
              f"{o['flagged_share']:.1%}: mean Jaccard {o['mean_jaccard_flagged']:.3f} flagged, "
              f"{o['mean_jaccard_rest']:.3f} the rest", file=sys.stderr)
    if variants:
        table = [{"variant": name, **summarise(rows),
                  "ms_per_image": round(variant_seconds[name] * 1000 / n, 1) if partner is None else
                  round(ms["tta" if v_tta else "plain"] + ms["restore"] + (ms["postprocess"] if v_post else 0.0), 1)}
                 for name, rows in variant_rows.items() for v_tta, v_post, _ in [variants[name]]]
        _write_options(out_dir, table)
        summary["options_compared"] = table
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def outline_check_figures(rows: list[dict]) -> dict | None:
    """How well mask_quality ranks the outlines: rank correlation with the true Jaccard, share
    flagged, and the flagged and other images' mean Jaccard (None with fewer than 3 images)."""
    import numpy as np
    from scipy.stats import spearmanr

    if len(rows) < 3:
        return None
    quality = np.array([r["mask_quality"] for r in rows], dtype=float)
    jaccard = np.array([r["jaccard"] for r in rows], dtype=float)
    flagged = np.array([bool(r["check_outline"]) for r in rows])
    constant = np.ptp(quality) == 0 or np.ptp(jaccard) == 0   # no ranking to correlate
    rho = None if constant else float(spearmanr(quality, jaccard).correlation)
    return {"spearman_with_jaccard": rho, "flagged_share": float(flagged.mean()),
            "n_flagged": int(flagged.sum()),
            "mean_jaccard_flagged": float(jaccard[flagged].mean()) if flagged.any() else None,
            "mean_jaccard_rest": float(jaccard[~flagged].mean()) if (~flagged).any() else None}


def _write_options(out_dir: Path, table: list[dict]) -> None:
    import pandas as pd

    df = pd.DataFrame(table)
    df.to_csv(out_dir / "options.csv", index=False)
    cols = ["variant", "jaccard", "threshold_jaccard", "dice", "accuracy", "sensitivity", "specificity", "n_images",
            "ms_per_image"]
    plain = ("variant", "n_images", "ms_per_image")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table:
        lines.append("| " + " | ".join(str(row[c]) if c in plain else f"{row[c]:.4f}" for c in cols) + " |")
    (out_dir / "options.md").write_text("\n".join(lines) + "\n")
