#!/usr/bin/env bash
# The second look's figures (docs/results.md, docs/model_card.md): each option scored through
# predict's own path, and paired with one pass by `dermaseg compare`. Training install; ~3 minutes.
set -euo pipefail
D=${DATA:-../shared/data}
O=runs/zoom
C="$D/not_dermoscopy/clinical_photos_masked"
S=configs/splits/isic2017_unet_lite0_split.csv
S2=configs/splits/clinical_photos_masked_split.csv
E="dermaseg evaluate --model isic-unet-lite0 --overwrite"
$E --data "$C" --split all --no-zoom --out $O/cpm_all_off
$E --data "$C" --split all --out $O/cpm_all_zoom
$E --data "$C" --split-file $S2 --split test --no-zoom --out $O/cpm_test_off
$E --data "$C" --split-file $S2 --split test --out $O/cpm_test_zoom
$E --data "$D/isic2017" --split-file $S --no-zoom --out $O/isic_test_off
$E --data "$D/isic2017" --split-file $S --out $O/isic_test_zoom
for pair in cpm_all cpm_test isic_test; do
    dermaseg compare $O/${pair}_off $O/${pair}_zoom --out $O/compare_$pair --overwrite
done
