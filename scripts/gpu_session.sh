#!/bin/bash
# The recipe on a CUDA GPU, in one sitting of under ten minutes: the BCE+Dice recipe
# (configs/isic2017_unet_lite0.yaml) trained alone, then four recipe-study rows sharing the GPU
# (the reference and the 30-epoch row, each with training seeds 0 and 1), then scored on the
# test split. Run from the repository root with the data at ../shared/data:
#
#   OUT=runs/gpu_session bash scripts/gpu_session.sh
#
# Everything lands under runs/gpu; OUT receives the log, the trained model.pt and a tarball of
# the small files (metrics, splits, scores), refreshed every 20 s so that a session cut short
# still returns what finished. The time limits below only guard a fixed-length session: where
# one stops a row early, the row's epoch count in results.md says so.
source "$(dirname "$0")/gpu_setup.sh"
slug() { python3 -c "import sys; from dermaseg.segment.study import slug; print(slug(sys.argv[1]))" "$1"; }

echo "== the recipe alone, from ${SECONDS}s"
timeout 330 $DS train --config configs/isic2017_unet_lite0.yaml --out runs/gpu/isic2017_unet_lite0 \
  train.num_workers=8 train.max_time_minutes=4.6 > runs/gpu/train_shipped_recipe.log 2>&1
grep -E "training on|best validation|Error" runs/gpu/train_shipped_recipe.log | tail -8
cp runs/gpu/isic2017_unet_lite0/model.pt "$OUT/isic_unet_lite0_gpu.pt" 2>/dev/null
snapshot

LEFT=$((510 - SECONDS))
MINUTES=$(python3 -c "print(round(($LEFT - 75) / 60, 2))")
echo "== four study rows sharing the GPU: ${LEFT}s, each stops training after $MINUTES min"
ROWS=("reference: BCE+Dice, 192 px, Lite0, 300 HAM10000" "30 epochs" "reference, training seed 1" "30 epochs, training seed 1")
STUDY=(configs/studies/isic2017_recipe.yaml --out runs/gpu/isic2017_recipe)
if [ $LEFT -gt 100 ]; then
  timeout $LEFT $DS study "${STUDY[@]}" --jobs 4 --only "${ROWS[@]}" \
    --set train.num_workers=3 train.max_time_minutes=$MINUTES 2>&1 | tail -8
fi
pkill -f "dermaseg.cli train"
# Score the rows that finished training but not scoring before the limit.
UNSCORED=()
for r in "${ROWS[@]}"; do
  d=runs/gpu/isic2017_recipe/runs/$(slug "$r")
  [ -f $d/summary.json ] && [ ! -f $d/row.json ] && UNSCORED+=("$r")
done
if [ ${#UNSCORED[@]} -gt 0 ] && [ $SECONDS -lt 540 ]; then
  timeout $((575 - SECONDS)) $DS study "${STUDY[@]}" --only "${UNSCORED[@]}" \
    --set train.num_workers=3 train.max_time_minutes=$MINUTES 2>&1 | tail -8
fi
kill $SNAPSHOTS; snapshot
echo "== done at ${SECONDS}s"
