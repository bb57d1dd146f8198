# Shared start of a GPU sitting, sourced by the gpu_*.sh scripts: logs to $OUT/log.txt, checks
# CUDA, and every 20 s packs runs/gpu's small files (no checkpoints, weights or masks) into
# $OUT/gpu_runs.tgz, so that a sitting cut short still returns what finished.
set -u
OUT=${OUT:-runs/gpu_session}
mkdir -p "$OUT" runs/gpu
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
exec > >(tee -a "$OUT/log.txt") 2>&1
DS="python3 -m dermaseg.cli"
snapshot() {
  tar czf "$OUT/gpu_runs.tgz.part" --exclude='*.ckpt' --exclude='model.pt' --exclude='masks' runs/gpu 2>/dev/null \
    && mv "$OUT/gpu_runs.tgz.part" "$OUT/gpu_runs.tgz"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 1
( while sleep 20; do snapshot; done ) &
SNAPSHOTS=$!
(nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -l 10 > runs/gpu/gpu_utilisation.csv 2>/dev/null &)
