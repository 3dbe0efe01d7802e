"""Disc Dice of a sagittal segmentation model on SPIDER, per held-out patient, at native resolution (docs/BENCHMARKS.md,
sag-seg-unet): plain, with a horizontal-flip test-time average, and averaged with a second model's probabilities;
for a model whose card says output.upsample nearest-mask (0.1.0, 0.2.0), also with its probabilities resized
bilinearly before the threshold (the rule of 0.3.0).
Usage: training/.venv/bin/python -m training.experiments.seg_dice_by_patient MODEL [SECOND_MODEL]
  MODEL: models/<name> or a run folder; split: models/sag-seg-unet/report/stage1-split.json (val and test)."""

from __future__ import annotations

import collections
import json
import os
import sys

from training import preprocess as P
from training import splits as S
from training.datasets import load_records
from training.inference import Runner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPIDER = os.path.join(ROOT, "..", "shared", "data", "spider")
SPLIT = os.path.join(ROOT, "models", "sag-seg-unet", "report", "stage1-split.json")
USAGE = "usage: python -m training.experiments.seg_dice_by_patient MODEL [SECOND_MODEL]"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(args) not in (1, 2):
        sys.exit(USAGE)
    runners = [Runner(m, "cpu") for m in args]
    records = load_records(SPIDER, "segmentation", "sagittal")
    split = S.read_split(SPLIT)
    for part in ("val", "test"):
        inter, union = collections.defaultdict(collections.Counter), collections.defaultdict(collections.Counter)
        for rec in S.select(records, split[part]):
            x, g = P.seg_input(rec.image(), runners[0].input_size)
            truth = rec.disc_mask() > 0
            p = runners[0](x[None])[0, 0]
            variants = {"plain": p, "flip-average": (p + runners[0](x[None][..., ::-1].copy())[0, 0][..., ::-1]) / 2}
            if len(runners) == 2:
                variants["two-model-average"] = (p + runners[1](x[None])[0, 0]) / 2
            # as the model card says (nearest-mask for 0.1.0/0.2.0)
            modes = {name: runners[0].upsample for name in variants}
            if runners[0].upsample == "nearest-mask":
                # the same probabilities resized bilinearly before the threshold (0.3.0's rule)
                variants["bilinear-probability"] = p
                modes["bilinear-probability"] = "bilinear-probability"
            for name, prob in variants.items():
                m = P.prob_to_mask(prob, g, modes[name]) > 0
                inter[name][rec.patient_id] += 2 * int((m & truth).sum())
                union[name][rec.patient_id] += int(m.sum() + truth.sum())
        for name in inter:
            per = {k: round(inter[name][k] / union[name][k], 3) for k in sorted(inter[name])}
            total = sum(inter[name].values()) / sum(union[name].values())
            print(json.dumps({"part": part, "variant": name, "dice": round(total, 4), "per_patient": per}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
