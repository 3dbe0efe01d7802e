#!/usr/bin/env bash
# Retrains the four shipped models from scratch exactly as shipped in models/ (0.1.0), on this machine's
# CPU (or a GPU where torch sees one), then exports them with their reports. The settings are those of the
# shipped run: Adam 1e-3 for the U-Nets (the paper's SGD converged too slowly for a CPU budget), step
# budgets instead of the paper's 35 epochs, DiscNet with Adam 1e-3 and balanced class weights.
# Since 0.2.0, sag-seg-unet and ax-cls-discnet in models/ come from training/ship_all_gpu.sh (GPU, starting
# partly from these 0.1.0 weights); this script still makes the 0.1.0 versions of all four and the phantom
# layouts (seeds train-1, train-2) that the GPU script packs.
# The phantom of algorithm 0.3.0 labels axial slices by what they show (docs/DATASET-LAYOUT.md): with it, the
# ax-cls-discnet this script trains learns from those corrected labels, not from the ones 0.1.0 learnt from.
# Usage: training/ship_all.sh [WORK_DIR]   (default /tmp/lumbar-ship)
# Time on 2 CPU cores (this machine, 2026-11-27, sharing the CPU with other work): see models/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/lumbar-ship}
py=training/.venv/bin/python
spider=../shared/data/spider
mkdir -p "$work"
[ -f "$work/phantom-train/labels.csv" ] || node packages/cli/dist/main.js phantom --dataset "$work/phantom-train" --studies 300 --seed train-1 --quiet
[ -f "$work/phantom-train2/labels.csv" ] || node packages/cli/dist/main.js phantom --dataset "$work/phantom-train2" --studies 400 --seed train-2 --quiet

train() { local name=$1; shift; $py -m training train --out "$work/runs/$name" --quiet "$@"; }
train ax-seg-unet --task seg --view axial --data "$work/phantom-train" --optimizer adam --lr 1e-3 --max-steps 600 --patience 3
train sag-seg-unet --task seg --view sagittal --data "$spider" --data "$work/phantom-train2" --optimizer adam --lr 1e-3 --max-steps 700 --patience 3 --no-eval-train
train sag-seg-unet-ft --task seg --view sagittal --data "$spider" --init "$work/runs/sag-seg-unet" --split "$work/runs/sag-seg-unet/split.json" --optimizer adam --lr 3e-4 --max-steps 300 --patience 4 --no-eval-train
train ax-cls-discnet --task cls --view axial --data "$work/phantom-train2" --lr 3e-4 --epochs 40 --patience 8 --class-weights balanced --no-eval-train
train sag-cls-discnet --task cls --view sagittal --data "$spider" --data "$work/phantom-train2" --seg-model "$work/runs/sag-seg-unet" --lr 3e-4 --epochs 40 --patience 8 --class-weights balanced --no-eval-train
for name in ax-seg-unet sag-seg-unet ax-cls-discnet sag-cls-discnet; do
  run=$name
  [ "$name" = sag-seg-unet ] && run=sag-seg-unet-ft # stage 2: fine-tuned on SPIDER
  $py -m training export --run "$work/runs/$run" --out "models/$name" --name "$name"
  training/ship_report.sh "$work/runs/$run" "models/$name"
done
