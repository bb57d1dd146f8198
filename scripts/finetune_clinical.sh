#!/usr/bin/env bash
# The shipped segmenter fine-tuned on clinical close-ups (configs/isic_unet_lite0_clinical_finetune.yaml),
# scored on the held-out test half of clinical_photos_masked and on the ISIC 2017 test split,
# paired with the shipped model by `dermaseg compare`. Training install; ~35 minutes on 2 CPU cores.
#   bash scripts/finetune_clinical.sh          # split, train (resumes after a stop), export, score
set -euo pipefail
D=${DATA:-../shared/data}
O=runs/clinical_finetune
C="$D/not_dermoscopy/clinical_photos_masked"
HALVES=configs/splits/clinical_photos_masked_split.csv
SPLIT=configs/splits/clinical_photos_masked_finetune_split.csv
# Training/epoch-choice parts from the validation half only, drawn by lesion (a name and its
# "_2" copy are one lesion), a quarter of the lesions for the epoch choice; the test half stays test.
python - "$HALVES" "$SPLIT" <<'PY'
import csv, re, sys
import numpy as np
rows = list(csv.DictReader(open(sys.argv[1])))
lesion = lambda i: re.sub(r"_\d+$", "", i)
groups = sorted({lesion(r["image_id"]) for r in rows if r["split"] == "val"})
rng = np.random.Generator(np.random.PCG64(0))
epoch_choice = set(rng.choice(groups, size=len(groups) // 4, replace=False).tolist())
with open(sys.argv[2], "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["image_id", "split"])
    for r in rows:
        part = "test" if r["split"] == "test" else ("val" if lesion(r["image_id"]) in epoch_choice else "train")
        w.writerow([r["image_id"], part])
PY
dermaseg train --config configs/isic_unet_lite0_clinical_finetune.yaml --out $O
dermaseg export --model $O/model.pt --out $O/model.onnx
E="dermaseg evaluate --overwrite"
$E --model isic-unet-lite0 --data "$C" --split-file $HALVES --split test --out $O/cpm_test_shipped
$E --model $O/model.onnx --data "$C" --split-file $HALVES --split test --out $O/cpm_test_tuned
$E --model isic-unet-lite0 --data "$D/isic2017" --split-file configs/splits/isic2017_unet_lite0_split.csv --out $O/isic_test_shipped
$E --model $O/model.onnx --data "$D/isic2017" --split-file configs/splits/isic2017_unet_lite0_split.csv --out $O/isic_test_tuned
for pair in cpm_test isic_test; do
    dermaseg compare $O/${pair}_shipped $O/${pair}_tuned --out $O/compare_$pair --overwrite
done
