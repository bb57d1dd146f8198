#!/usr/bin/env bash
# The second look's figures (docs/results.md, docs/model_card.md): each option scored through
# predict's own path, and paired by `dermaseg compare`: one pass (--no-zoom), the second look by the
# first network itself (0.3.0's, --second-look-model isic-unet-lite0), and the shipped second look
# (0.4.0: isic-unet-lite0-second-look). Besides the clinical photographs: the ISIC 2017 test split
# at its 256 px (the second look never applies) and enlarged to 3000x2000 px (as the README's speed
# benchmark; dermoscopy where the second look applies, though the enlarged pixels hold no new
# detail). Training install; ~15 minutes.
set -euo pipefail
D=${DATA:-../shared/data}
O=runs/zoom
C="$D/not_dermoscopy/clinical_photos_masked"
S=configs/splits/isic2017_unet_lite0_split.csv
S2=configs/splits/clinical_photos_masked_split.csv
BIG=$O/isic_test_3000x2000
python - "$D/isic2017" $S $BIG <<'PY'
import csv, sys
from pathlib import Path
import cv2
root, split, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
(out / "images").mkdir(parents=True, exist_ok=True)
(out / "masks").mkdir(exist_ok=True)
for r in csv.DictReader(open(split)):
    if r["split"] != "test" or (out / "masks" / f"{r['image_id']}_segmentation.png").is_file():
        continue
    image = cv2.imread(str(root / "ISIC-2017_Training_Data" / f"{r['image_id']}.jpg"))
    mask = cv2.imread(str(root / "ISIC-2017_Training_Part1_GroundTruth" / f"{r['image_id']}_segmentation.png"), 0)
    cv2.imwrite(str(out / "images" / f"{r['image_id']}.jpg"), cv2.resize(image, (3000, 2000), interpolation=cv2.INTER_CUBIC),
                [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(out / "masks" / f"{r['image_id']}_segmentation.png"),
                cv2.resize(mask, (3000, 2000), interpolation=cv2.INTER_NEAREST))
PY
E="dermaseg evaluate --model isic-unet-lite0 --overwrite"
FIRST="--second-look-model isic-unet-lite0"
for set in "cpm_all --data $C --split all" "cpm_test --data $C --split-file $S2 --split test" \
           "isic_test --data $D/isic2017 --split-file $S" "isic_big --data $BIG --split all"; do
    name=${set%% *}; args=${set#* }
    $E $args --no-zoom --out $O/${name}_off
    $E $args $FIRST --out $O/${name}_first
    $E $args --out $O/${name}_zoom
    dermaseg compare $O/${name}_off $O/${name}_first $O/${name}_zoom --out $O/compare_$name --overwrite
    dermaseg compare $O/${name}_first $O/${name}_zoom --out $O/compare_${name}_040_030 --overwrite
done
