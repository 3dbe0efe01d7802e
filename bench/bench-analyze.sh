#!/usr/bin/env bash
# Measures the pipeline with the shipped models (docs/BENCHMARKS.md records the output):
#  1. N phantom studies from a seed never used in training (training used train-1, train-2): per-level
#     accuracy over L4-L5 and L5-S1, confusion matrix, time per study after the models are loaded;
#  2. the real SPIDER sagittal slices of the sagittal classifier's held-out test patients: the level of
#     herniation found by the sagittal path, against the grades (balanced accuracy);
#  3. peak memory of the whole evaluation process.
# Usage: bench/bench-analyze.sh [N] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
seed=${2:-eval-2026}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
node packages/cli/dist/main.js phantom --out "$out" --studies "$n" --seed "$seed" --quiet
split=models/sag-cls-discnet/report/split.json
spider=../shared/data/spider
args=(--phantom "$out")
[ -d "$spider" ] && args+=(--spider "$spider")
[ -f "$split" ] && args+=(--patients "$split")
/usr/bin/time -f 'peak RSS %M KB, wall %e s' node packages/cli/dist/main.js evaluate "${args[@]}"
node bench/bench-unet.js models 50
