"""Training crops for a second-look network on clinical close-ups: the views the second look
gives the network (dermaseg.segment.zoom), cut from one half of
not_dermoscopy/clinical_photos_masked; the other half stays held out.

    python scripts/clinical_crops.py --train-half val --out runs/clinical_crops_val

For each image of the training half, PER_IMAGE square crops around the annotated lesion, each
with a random context (crop side / the lesion box's longer side, 1.6-3.2: around the second
look's 2x, and wide enough for a first pass that found too much or too little) and a random
shift of the centre, from the photograph's own pixels, resized to the network's 256 px. The
halves are those of configs/splits/clinical_photos_masked_split.csv (drawn by lesion). A quarter
of the training half's lesions, drawn by lesion again, goes to `val` for the epoch choice.
Writes OUT/images/<id>_c<k>.png, OUT/masks/<id>_c<k>_segmentation.png and OUT/split.csv.
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
HALVES = REPO / "configs" / "splits" / "clinical_photos_masked_split.csv"
PER_IMAGE = 8
SIZE = 256
CONTEXT = (1.6, 3.2)
SHIFT = 0.12   # of the crop side, each way


def lesion_of(image_id: str) -> str:
    return re.sub(r"_\d+$", "", image_id)   # "DQ_mel_SSM32_2" is another photograph of DQ_mel_SSM32


def crops_of(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
    box_side = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
    out = []
    for _ in range(PER_IMAGE):
        side = min(max(h, w), box_side * rng.uniform(*CONTEXT))
        sy, sx = min(side, h), min(side, w)
        y = cy + rng.uniform(-SHIFT, SHIFT) * sy
        x = cx + rng.uniform(-SHIFT, SHIFT) * sx
        y0 = int(round(min(max(y - sy / 2, 0), h - sy)))
        x0 = int(round(min(max(x - sx / 2, 0), w - sx)))
        y1, x1 = y0 + int(round(sy)), x0 + int(round(sx))
        crop = cv2.resize(image[y0:y1, x0:x1], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        m = cv2.resize(mask[y0:y1, x0:x1].astype(np.float32), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        out.append((crop, ((m >= 0.5) * 255).astype(np.uint8)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--train-half", choices=("val", "test"), required=True,
                    help="the half of clinical_photos_masked the crops come from")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    source = args.data / "not_dermoscopy" / "clinical_photos_masked"
    halves = {r["image_id"]: r["split"] for r in csv.DictReader(open(HALVES))}
    ids = sorted(i for i, half in halves.items() if half == args.train_half)
    rng = np.random.Generator(np.random.PCG64(args.seed))
    lesions = sorted({lesion_of(i) for i in ids})
    epoch_choice = set(rng.choice(lesions, size=len(lesions) // 4, replace=False).tolist())
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    (args.out / "masks").mkdir(parents=True, exist_ok=True)
    rows = []
    for image_id in ids:
        image = np.asarray(Image.open(source / "images" / f"{image_id}.jpg").convert("RGB"))
        mask = np.asarray(Image.open(source / "masks" / f"{image_id}_segmentation.png").convert("L")) > 127
        part = "val" if lesion_of(image_id) in epoch_choice else "train"
        for k, (crop, m) in enumerate(crops_of(image, mask, rng)):
            crop_id = f"{image_id}_c{k}"
            Image.fromarray(crop).save(args.out / "images" / f"{crop_id}.png")
            Image.fromarray(m).save(args.out / "masks" / f"{crop_id}_segmentation.png")
            rows.append((crop_id, part))
    with open(args.out / "split.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("image_id", "split"), *rows])
    print(f"{len(rows)} crops of {len(ids)} images ({sum(p == 'val' for _, p in rows)} for the epoch choice) in {args.out}")


if __name__ == "__main__":
    main()
