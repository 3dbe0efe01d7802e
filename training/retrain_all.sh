#!/usr/bin/env bash
# Retrain the four shipped models from scratch and export them to models/:
#   sag-seg-unet     SPIDER t2_space masks + phantom sagittal (as 0.3.0: letterbox 1.5 x --seg-size = 384,
#                    learnt from --seg-size = 256 crops, smooth masks, --augment-extra)
#   ax-seg-unet      phantom axial
#   sag-cls-discnet  SPIDER grades (crops from sag-seg-unet) + phantom sagittal
#   ax-cls-discnet   phantom axial
# Usage: training/retrain_all.sh [--spider DIR] [--phantom DIR] [more options of
#        `python -m training retrain-all --help`, e.g. --seg-epochs 35 --cls-epochs 100]
# Without --phantom only the SPIDER-based sagittal models are retrained.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-training/.venv/bin/python}
SPIDER_DEFAULT=../shared/data/spider
args=("$@")
if [[ " $* " != *" --spider "* && -d "$SPIDER_DEFAULT" ]]; then
  args=(--spider "$SPIDER_DEFAULT" "${args[@]}")
fi
exec "$PY" -m training retrain-all "${args[@]}"
