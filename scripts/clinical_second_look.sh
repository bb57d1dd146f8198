#!/usr/bin/env bash
# The second-look network for clinical close-ups, both ways round: crops from one half of
# clinical_photos_masked train it (scripts/clinical_crops.py, configs/isic_unet_lite0_clinical_crops.yaml),
# the other half scores it, through predict's path, paired with the first network looking again
# itself (0.3.0's second look) by `dermaseg compare`. The network trained on the validation half
# is the one shipped (isic-unet-lite0-second-look); the other fold gives every image a held-out
# score (cross-fitted figures). Training install; ~25 minutes on 2 CPU cores.
#   bash scripts/clinical_second_look.sh
set -euo pipefail
D=${DATA:-../shared/data}
C="$D/not_dermoscopy/clinical_photos_masked"
HALVES=configs/splits/clinical_photos_masked_split.csv
for half in val test; do
    O=runs/clinical_second_look_$half
    python scripts/clinical_crops.py --data "$D" --train-half $half --out runs/clinical_crops_$half
    dermaseg train --config configs/isic_unet_lite0_clinical_crops.yaml --out $O \
        data.root=runs/clinical_crops_$half data.split_file=runs/clinical_crops_$half/split.csv
    dermaseg export --model $O/model.pt --out $O/model.onnx --overwrite
    # the first network on the crops held apart for the epoch choice (the run's metrics.csv has the tuned one's)
    dermaseg evaluate --model isic-unet-lite0 --data runs/clinical_crops_$half --split-file runs/clinical_crops_$half/split.csv \
        --split val --out $O/crops_val_first_network --overwrite
done
# each half scored by the network trained on the other
for pair in "val test" "test val"; do
    set -- $pair
    E="dermaseg evaluate --model isic-unet-lite0 --data $C --split-file $HALVES --split $2 --overwrite"
    $E --second-look-model isic-unet-lite0 --out runs/clinical_second_look_$1/held_out_first_network
    $E --second-look-model runs/clinical_second_look_$1/model.onnx --out runs/clinical_second_look_$1/held_out_tuned
    dermaseg compare runs/clinical_second_look_$1/held_out_first_network runs/clinical_second_look_$1/held_out_tuned \
        --out runs/clinical_second_look_$1/compare --overwrite
done
# all 137 images, each scored by the network that never saw it (cross-fitted)
X=runs/clinical_second_look_crossfit
for which in held_out_first_network held_out_tuned; do
    mkdir -p $X/$which
    awk 'FNR > 1 || NR == 1' runs/clinical_second_look_val/$which/per_image.csv \
        runs/clinical_second_look_test/$which/per_image.csv > $X/$which/per_image.csv
done
dermaseg compare $X/held_out_first_network $X/held_out_tuned --out $X/compare --overwrite
