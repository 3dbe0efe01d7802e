"""Per-patient disc Dice at each image's own resolution for a k-fold cross-validation of a segmentation recipe:
every fold's model scored on its own test patients (held out from its training), so that every patient is scored
once by a model that never saw it (docs/BENCHMARKS.md, sag-seg-unet 10-fold).
Usage: training/.venv/bin/python -m training.experiments.seg_cv_dice RUNS DATA   (RUNS/fold-K/ = run folders of
`python -m training train` with their split.json; DATA = the SPIDER folder). Prints one JSON line per patient, then
one summary line."""

from __future__ import annotations

import collections
import glob
import json
import os
import sys

import numpy as np

from training import splits as S
from training.datasets import load_records
from training.inference import Runner

USAGE = "usage: python -m training.experiments.seg_cv_dice RUNS DATA"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(args) != 2:
        sys.exit(USAGE)
    runs, data = args
    records = load_records(data, "segmentation", "sagittal")
    inter, union, fold_of = collections.Counter(), collections.Counter(), {}
    folds = sorted(glob.glob(os.path.join(runs, "fold-*", "split.json")))
    if not folds:
        sys.exit(f"no fold-*/split.json under {runs}")
    for sp in folds:
        run = os.path.dirname(sp)
        runner = Runner(run)
        test = S.read_split(sp)["test"]
        for rec in S.select(records, test):
            m = runner.segment(rec.image()) > 0
            t = rec.disc_mask() > 0
            inter[rec.patient_id] += 2 * int((m & t).sum())
            union[rec.patient_id] += int(m.sum() + t.sum())
            fold_of[rec.patient_id] = os.path.basename(run)
    per = {p: inter[p] / union[p] for p in sorted(inter)}
    for p, d in per.items():
        print(json.dumps({"patient": p, "fold": fold_of[p], "dice": round(d, 4)}))
    v = np.array(list(per.values()))
    print(
        json.dumps(
            {
                "folds": len(folds),
                "patients": len(per),
                "pooled_dice": round(sum(inter.values()) / sum(union.values()), 4),
                "mean_patient_dice": round(float(v.mean()), 4),
                "median": round(float(np.median(v)), 4),
                "min": round(float(v.min()), 4),
                "max": round(float(v.max()), 4),
                "patients_at_least_0.90": int((v >= 0.9).sum()),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
