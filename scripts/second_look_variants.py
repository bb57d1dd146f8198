"""What else the second look could do at inference, scored on both halves of
not_dermoscopy/clinical_photos_masked (configs/splits/clinical_photos_masked_split.csv; choices
belong to the validation half, the test half only confirms them).

    python scripts/second_look_variants.py [--data ../shared/data] [--second-look-model FILE]

Each image goes through predict's decoding, first pass and second-look geometry
(dermaseg.segment.zoom); the variants change one thing each:
- the crop's context (crop side / the lesion box's side; shipped: 2);
- the crop's flips averaged (test-time augmentation of the second look only);
- the crop cut from the decoded copy only (no finer re-decoding of the file);
- the crop given to the network at fewer pixels (the second look's cost);
- the probability threshold of the whole map;
- colour or contrast normalisation of the photograph before both passes;
- (--second-look-model) another network for the second look only.
Prints Dice and thresholded Jaccard per half and for all 137, as the ISIC challenge scores
them (thresholded Jaccard: an image under 0.65 Jaccard counts 0).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
HALVES = REPO / "configs" / "splits" / "clinical_photos_masked_split.csv"


def scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = np.count_nonzero(pred & truth)
    union = np.count_nonzero(pred | truth)
    jaccard = tp / max(1, union)
    return 2 * tp / max(1, np.count_nonzero(pred) + np.count_nonzero(truth)), (jaccard if jaccard >= 0.65 else 0.0)


def main() -> None:
    from dermaseg.segment.segmenter import Segmenter
    from dermaseg.segment.working import decoded_working_size, upscale_mask
    from dermaseg.segment.zoom import DEFAULT_ZOOM_BELOW, crop_box, crop_pixels, scale_box
    from dermaseg.transforms.pipeline import to_model_input
    from dermaseg.transforms.preprocess import clahe_lab, shades_of_gray

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--second-look-model", help="another network for the second look only (.onnx/.pt)")
    args = ap.parse_args()
    source = args.data / "not_dermoscopy" / "clinical_photos_masked"
    halves = {r["image_id"]: r["split"] for r in csv.DictReader(open(HALVES))}
    seg = Segmenter("isic-unet-lite0", zoom_below=None)
    other = Segmenter(args.second_look_model, zoom_below=None) if args.second_look_model else None

    def second_look(item, image, prob_map, first, context=2.0, net=seg, flips=False, decoded_only=False,
                    size=None) -> np.ndarray:
        share = np.count_nonzero(first) / first.size
        if not 0 < share < DEFAULT_ZOOM_BELOW:
            return prob_map
        box = crop_box(first, context)
        box_full = scale_box(box, prob_map.shape[:2], item.full_size)
        if min(box_full[1] - box_full[0], box_full[3] - box_full[2]) < seg.input_size:
            return prob_map
        if decoded_only or image is not item.image:
            y0, y1, x0, x1 = scale_box(box_full, item.full_size, image.shape[:2])
            crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        else:
            crop = crop_pixels(item, box_full, seg.input_size)
        pipe = dataclasses.replace(net.pipeline, size=size or net.pipeline.size)
        x, meta = to_model_input(crop, pipe)
        net.tta = flips
        prob = net._network(x[None])[0]
        net.tta = False
        out = prob_map.copy()
        y0, y1, x0, x1 = box
        out[y0:y1, x0:x1] = net.probability_map(prob, meta, (y1 - y0, x1 - x0))
        return out

    variants = {
        "shipped: context 2": {},
        **{f"context {c:g}": {"context": c} for c in (1.5, 2.25, 2.5, 2.75, 3.0)},
        "crop flips averaged": {"flips": True},
        "crop from the decoded copy only": {"decoded_only": True},
        **{f"crop at {s} px": {"size": s} for s in (224, 192, 160)},
        **({"second look by --second-look-model": {"net": other}} if other else {}),
    }
    thresholds = (0.45, 0.55, 0.6, 0.65)
    colour = {"shades of grey": shades_of_gray, "CLAHE": clahe_lab}
    names = ["one pass", *variants, *(f"threshold {t:g}" for t in thresholds), *colour]
    rows = {name: {} for name in names}
    for image_id in sorted(halves):
        truth = np.asarray(Image.open(source / "masks" / f"{image_id}_segmentation.png").convert("L")) > 127
        item = seg.load(source / "images" / f"{image_id}.jpg")

        def first_pass(image):
            (prob, meta), = seg.predict_small([image])
            prob_map = seg.probability_map(prob, meta, decoded_working_size(item.full_size, image.shape[:2]))
            return prob_map, seg._work_mask(prob_map)

        def score(prob_map, threshold=None):
            old, seg.threshold = seg.threshold, threshold or seg.threshold
            mask = upscale_mask(seg._work_mask(prob_map), tuple(item.full_size)) > 0
            seg.threshold = old
            return scores(mask, truth)

        prob_map, first = first_pass(item.image)
        rows["one pass"][image_id] = score(prob_map)
        for name, kw in variants.items():
            rows[name][image_id] = score(second_look(item, item.image, prob_map, first, **kw))
        shipped = second_look(item, item.image, prob_map, first)
        for t in thresholds:
            rows[f"threshold {t:g}"][image_id] = score(shipped, t)
        for name, fn in colour.items():
            image = fn(item.image)
            p, f = first_pass(image)
            rows[name][image_id] = score(second_look(item, image, p, f))
    print("| variant | val: Dice | val: thr. Jaccard | test: Dice | test: thr. Jaccard | all 137: Dice | all 137: thr. Jaccard |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        cells = []
        for part in ("val", "test", None):
            values = np.array([v for i, v in rows[name].items() if part is None or halves[i] == part])
            cells += [f"{values[:, 0].mean():.4f}", f"{values[:, 1].mean():.4f}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
