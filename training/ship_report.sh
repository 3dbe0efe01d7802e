#!/usr/bin/env bash
# Copies a training run's report (summary, metrics, plots, split) beside a shipped model:
#   training/ship_report.sh training/runs/<run> models/<name>
set -euo pipefail
run=$1
model=$2
mkdir -p "$model/report"
for f in summary.md metrics.json history.json config.json split.json "$run"/*.png; do
  f=$(basename "$f")
  [ -f "$run/$f" ] && cp "$run/$f" "$model/report/"
done
ls "$model/report"
