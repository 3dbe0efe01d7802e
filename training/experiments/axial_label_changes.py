"""Axial labels of a phantom training layout that differ from their level's truth (docs/BENCHMARKS.md,
"Axial labels"): since algorithm 0.3.0 a slice that does not cut a herniation is labelled healthy.
Usage: training/.venv/bin/python -m training.experiments.axial_label_changes DATASET_DIR
  (a `lumbar phantom --dataset` folder). Prints one JSON line."""

from __future__ import annotations

import collections
import csv
import json
import os
import sys

USAGE = "usage: python -m training.experiments.axial_label_changes DATASET_DIR"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(args) != 1:
        sys.exit(USAGE)
    root = args[0]
    with open(os.path.join(root, "truth.json")) as f:
        truth = {s["patientId"]: s["levels"] for s in json.load(f)["studies"]}
    changed, total = collections.Counter(), collections.Counter()
    with open(os.path.join(root, "labels.csv")) as f:
        for row in csv.DictReader(f):
            if row["view"] != "axial":
                continue
            stated = truth[row["patient_id"]].get(row["level"], "healthy")
            total[stated] += 1
            if row["class"] != stated:
                changed[f"{stated}->{row['class']}"] += 1
    n, c = sum(total.values()), sum(changed.values())
    print(
        json.dumps(
            {
                "axial_labels": n,
                "differ_from_truth": c,
                "fraction": round(c / n, 3),
                "by_change": changed,
                "by_truth": total,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
