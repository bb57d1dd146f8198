#!/bin/bash
# The rows still open, in one GPU sitting of under ten minutes, all at once on
# one device (three processes, each with its own data workers):
#   - the shipped recipe (configs/isic2017_unet_lite0_lovasz.yaml, BCE+Lovasz, 256 px, 30 epochs),
#   - the recipe study's seed-1 pair ("reference, training seed 1", "30 epochs, training seed 1"),
#     trained and scored: the CPU has this pair, the GPU's own shows whether its size pattern repeats.
# Run from the repository root with the data at ../shared/data:
#
#   OUT=runs/gpu_session bash scripts/gpu_open_rows.sh
#
# Everything lands under runs/gpu; OUT receives the log, the recipe's model.pt and a tarball of
# the small files (metrics, splits, scores), refreshed every 20 s so that a sitting cut short
# still returns what finished. The time guards only protect a fixed-length sitting: a row they
# stop early says so by its epoch count.
source "$(dirname "$0")/gpu_setup.sh"

MINUTES=7.0   # training guard for each of the three processes; scoring follows within the sitting
echo "== three trainings sharing the GPU, each stopped after $MINUTES min"
timeout 500 $DS train --config configs/isic2017_unet_lite0_lovasz.yaml --out runs/gpu/isic2017_unet_lite0_lovasz \
  train.num_workers=4 train.max_time_minutes=$MINUTES > runs/gpu/train_lovasz_recipe.log 2>&1 &
RECIPE=$!
timeout 540 $DS study configs/studies/isic2017_recipe.yaml --out runs/gpu/isic2017_recipe --jobs 2 \
  --only "reference, training seed 1" "30 epochs, training seed 1" \
  --set train.num_workers=2 train.max_time_minutes=$MINUTES > runs/gpu/study_seed1.log 2>&1 &
SEED1=$!
wait $RECIPE; grep -E "training on|best validation|Error" runs/gpu/train_lovasz_recipe.log | tail -4
cp runs/gpu/isic2017_unet_lite0_lovasz/model.pt "$OUT/isic_unet_lite0_lovasz_gpu.pt" 2>/dev/null
wait $SEED1; tail -6 runs/gpu/study_seed1.log
kill $SNAPSHOTS; snapshot
echo "== done at ${SECONDS}s"
