#!/usr/bin/env bash
# GPU retraining of the 0.2.0 models (sag-seg-unet, ax-cls-discnet), in three steps on two machines:
#
#   training/ship_all_gpu.sh pack [WORK]        this machine (CPU, Node.js): phantom layouts (seeds train-1,
#                                                train-2, as ship_all.sh) and the packed arrays in .pack/
#   training/ship_all_gpu.sh train PACK RUNS     the GPU machine (only python3 + torch needed; no data
#                                                folders, no Node.js): candidate runs in parallel -> RUNS/<run>
#   training/ship_all_gpu.sh export RUNS         this machine: per model the candidate with the best
#                                                VALIDATION score is exported to models/<name> (0.2.0)
#
# Held-out data are the shipped 0.1.0 models' own splits (models/<name>/report/*split.json), so the new and
# the old models are scored on the same test patients. Candidates start from the shipped 0.1.0 weights
# (--init models/<name>, read from model.onnx) or from scratch; all use Adam with a cosine LR schedule and
# keep the weights of the epoch with the best validation Dice / balanced accuracy (--monitor metric).
# ax-cls-discnet also learns from crops cut with the disc masks ax-seg-unet predicts (--add-predicted), as
# the pipeline cuts them; its test part keeps ground-truth crops only (as 0.1.0 was scored).
# Shipped 0.2.0: trained on one NVIDIA H100 (2026-11-27), `train` step about 6 minutes; see
# docs/BENCHMARKS.md. ax-seg-unet and sag-cls-discnet stay 0.1.0 (ship_all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:?usage: ship_all_gpu.sh pack [WORK] | train PACK RUNS | export RUNS}

if [ "$step" = pack ]; then
  work=${2:-/tmp/lumbar-ship}
  py=training/.venv/bin/python
  spider=../shared/data/spider
  export OMP_NUM_THREADS=1
  mkdir -p "$work" .pack
  [ -f "$work/phantom-train/labels.csv" ] || node packages/cli/dist/main.js phantom --dataset "$work/phantom-train" --studies 300 --seed train-1 --quiet
  [ -f "$work/phantom-train2/labels.csv" ] || node packages/cli/dist/main.js phantom --dataset "$work/phantom-train2" --studies 400 --seed train-2 --quiet
  # SPIDER t2_space on sag-seg-unet 0.1.0's split + 80 phantom sagittal slices (seed train-1) for training only
  $py -m training pack --task seg --view sagittal --data "$spider" --split models/sag-seg-unet/report/stage1-split.json \
    --extra-train "$work/phantom-train" --extra-max 80 --out .pack/sag-seg.npz --quiet
  # phantom axial crops on ax-cls-discnet 0.1.0's split; train and val also cut with ax-seg-unet's masks
  $py -m training pack --task cls --view axial --data "$work/phantom-train2" --split models/ax-cls-discnet/report/split.json \
    --seg-model models/ax-seg-unet --add-predicted train,val --out .pack/ax-cls.npz --quiet
  ls -la .pack
  exit 0
fi

if [ "$step" = train ]; then
  pack=${2:?PACK folder}
  runs=${3:?RUNS folder}
  py=${PY:-python3}
  mkdir -p "$runs"
  export OMP_NUM_THREADS=2 PYTHONUNBUFFERED=1
  common=(--quiet --no-eval-train --optimizer adam --lr-schedule cosine --monitor metric --patience 1000)
  seg=(--task seg --view sagittal --data "$pack/sag-seg.npz" --workers 3 --time-limit "${SEG_TIME:-300}")
  cls=(--task cls --view axial --data "$pack/ax-cls.npz" --class-weights balanced --time-limit "${CLS_TIME:-240}")
  job() { local name=$1; shift; $py -m training train --out "$runs/$name" "${common[@]}" "$@" >"$runs/$name.log" 2>&1 || echo "FAILED $name" >>"$runs/$name.log"; }
  job sag-seg-ft "${seg[@]}" --init models/sag-seg-unet --lr 3e-4 --batch-size 8 --epochs "${SEG_EPOCHS_FT:-60}" &
  job sag-seg-scratch "${seg[@]}" --lr 1e-3 --batch-size 8 --epochs "${SEG_EPOCHS:-120}" &
  job sag-seg-ft16 "${seg[@]}" --init models/sag-seg-unet --lr 1e-3 --batch-size 16 --epochs "${SEG_EPOCHS_FT16:-100}" &
  job ax-cls-scratch "${cls[@]}" --lr 3e-4 --batch-size 16 --epochs "${CLS_EPOCHS:-60}" &
  job ax-cls-ft "${cls[@]}" --init models/ax-cls-discnet --lr 1e-4 --batch-size 16 --epochs "${CLS_EPOCHS_FT:-40}" &
  wait
  for f in "$runs"/*.log; do echo "== $f"; tail -3 "$f"; done
  exit 0
fi

if [ "$step" = export ]; then
  runs=${2:?RUNS folder}
  py=training/.venv/bin/python
  export OMP_NUM_THREADS=1
  for name in sag-seg-unet ax-cls-discnet; do
    prefix=${name%-unet}; prefix=${prefix%-discnet}
    best=$($py - "$runs" "$prefix" <<'EOF'
import glob, json, os, sys
runs, prefix = sys.argv[1], sys.argv[2]
best = None
for m in sorted(glob.glob(os.path.join(runs, prefix + "-*", "metrics.json"))):
    val = json.load(open(m))["parts"]["val"]
    score = val.get("dice", val.get("balanced_accuracy"))
    print(f"{os.path.dirname(m)}: validation {score:.4f}", file=sys.stderr)
    if best is None or score > best[0]:
        best = (score, os.path.dirname(m))
print(best[1])
EOF
)
    echo "$name <- $best (best validation score)"
    $py -m training export --run "$best" --out "models/$name" --name "$name" --version 0.2.0
    training/ship_report.sh "$best" "models/$name"
  done
  exit 0
fi
echo "unknown step $step" >&2
exit 2
