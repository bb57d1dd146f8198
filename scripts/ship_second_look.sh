#!/usr/bin/env bash
# isic-unet-lite0 0.4.0: the first network unchanged (0.3.0's weights; only its version moves), and
# the second look's own network (isic-unet-lite0-second-look), trained on crops from the validation
# half of clinical_photos_masked (bash scripts/clinical_second_look.sh), its held-out figures those
# of the whole segmenter on the test half. Then both ONNX files are regenerated and the figures
# re-scored (bash scripts/zoom_figures.sh).
set -euo pipefail
W=src/dermaseg/weights
RUN=runs/clinical_second_look_val
python scripts/ship_segmentation_model.py $RUN/model.pt --version 0.4.0 --name isic-unet-lite0-second-look \
    --test-summary $RUN/held_out_tuned/summary.json --recipe configs/isic_unet_lite0_clinical_crops.yaml \
    --training-data "square crops around the lesions of the validation half of not_dermoscopy/clinical_photos_masked \
(68 DermQuest clinical photographs, 8 crops each; research use) + 150 HAM10000 images with lesion masks; \
started from isic-unet-lite0 0.3.0" \
    --held-out "clinical_photos_masked, test half (69 images, lesion-grouped; the whole segmenter: first pass + second look)" \
    --out $W/isic_unet_lite0_second_look.pt
python - <<'PY'
from dermaseg.segment.modelfile import read_model_file, save_model_file
path = "src/dermaseg/weights/isic_unet_lite0.pt"
m = read_model_file(path)
m["info"]["version"] = "0.4.0"   # same weights: the version names the segmenter it is part of
save_model_file(path, m["state_dict"], m, threshold=m["threshold"], info=m["info"])
PY
for name in isic_unet_lite0 isic_unet_lite0_second_look; do   # only these two: the other shipped files are untouched
    dermaseg export --model $W/$name.pt --out $W/$name.onnx --overwrite
done
