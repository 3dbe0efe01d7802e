#!/usr/bin/env bash
# One call of the device tool (GPU machine, python3 with torch; .gpu-data carried, made by
# `training/ship_all_gpu.sh seg-data`): the sag-seg-unet 0.3.0 candidates, then the three best by validation Dice at
# native resolution packed for the way back (each run folder one tar under $OUT, with the logs and scores).
set -uo pipefail
cd "$(dirname "$0")/.."
runs=/tmp/runs
SEG_TIME=${SEG_TIME:-360} bash training/ship_all_gpu.sh train-seg-scale .gpu-data "$runs" 2>&1 | tail -20
out=${OUT:-/tmp/out}
mkdir -p "$out"
cp "$runs/native.jsonl" "$out/" 2>/dev/null
tar czf "$out/logs.tgz" -C "$runs" --exclude='*.npz' --exclude=checkpoint.pt .
python3 - "$runs" <<'PY' | while read -r r; do tar cf "$out/run-$r.tar" -C "$runs" "$r"; done
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/native.jsonl")]
val = sorted((r for r in rows if r["part"] == "val"), key=lambda r: -r["dice"])
for r in val[:3]:
    print(r["run"])
PY
ls -la "$out"
