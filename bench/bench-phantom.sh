#!/usr/bin/env bash
# Times the phantom generator: N studies (default 100) with one worker per core, DICOM + masks + truth.
# Prints wall time, studies/s, images/s and the output size. Usage: bench/bench-phantom.sh [N] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
seed=${2:-bench}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
[ -f packages/cli/dist/main.js ] || npx tsc -b
start=$(date +%s.%N)
node packages/cli/dist/main.js phantom --out "$out" --studies "$n" --seed "$seed" --quiet
end=$(date +%s.%N)
images=$(find "$out" -name '*.dcm' | wc -l)
size=$(du -sh "$out" | cut -f1)
awk -v s="$start" -v e="$end" -v n="$n" -v i="$images" -v sz="$size" -v c="$(nproc)" 'BEGIN {
  t = e - s
  printf "phantom benchmark: %d studies, %d images, %s on disk, %d cores\n", n, i, sz, c
  printf "wall %.1f s  |  %.2f studies/s  |  %.0f images/s  |  target: 100 studies < 60 s\n", t, n / t, i / t
}'
