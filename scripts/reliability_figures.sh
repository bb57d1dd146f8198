#!/usr/bin/env bash
# The figures of docs/reliability.md and the model cards' "when not to answer" sections.
# Training install, ../shared/data present; about 15 minutes on 2 CPU cores. Outputs in runs/reliability/.
set -euo pipefail
D=${DATA:-../shared/data}
O=runs/reliability
S=configs/splits/isic2017_unet_lite0_split.csv
mkdir -p $O
# image kinds of the shipped check (scripts/fit_image_kind.py without --no-fit refits it): docs/image_kind.json
python scripts/fit_image_kind.py --no-fit --data "$D" --report $O/image_kind.json
# calibration, prediction sets, triage: metrics.json and reliability.png of each
dermaseg classify evaluate --model ham10000-ensemble --data "$D/ham10000" --out $O/ham10000_test --overwrite
dermaseg classify evaluate --model ham10000-ensemble --data "$D/isic2017" --out $O/isic2017_test --overwrite
dermaseg classify evaluate --model ham10000-ensemble --data "$D/isic2017" --task melanoma --out $O/isic2017_test_melanoma --overwrite
dermaseg classify predict "$D/not_dermoscopy/clinical_photos" --out $O/clinical_photos --overwrite || true
python scripts/triage_figures.py $O/clinical_photos/classification.csv "$D/not_dermoscopy/clinical_photos.csv" \
    | tee $O/clinical_photos/triage.json
# mask quality: its check_outline point is chosen on the validation split (per_image.csv: the
# highest mask_quality among images with Jaccard under 0.65 is 0.627), then scored on the test split
dermaseg evaluate --model isic-unet-lite0 --data "$D/isic2017" --split-file $S --split val --out $O/segmentation_val --overwrite
dermaseg evaluate --model isic-unet-lite0 --data "$D/isic2017" --split-file $S --out $O/segmentation_test --overwrite
# what predict does with photographs that are not of skin (exit status 3: not segmented)
dermaseg predict "$D/not_dermoscopy/imagenet_objects" --out $O/objects --overwrite --no-overlay || true
