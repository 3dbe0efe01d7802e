#!/usr/bin/env python3
"""Axial labels of a phantom training layout that differ from their level's truth (docs/BENCHMARKS.md,
"Axial labels"): since algorithm 0.3.0 a slice that does not cut a herniation is labelled healthy.
Usage: python3 scripts/axial-label-changes.py DATASET_DIR   (a `lumbar phantom --dataset` folder)"""
import collections
import csv
import json
import os
import sys

if len(sys.argv) != 2:
    sys.exit("usage: python3 scripts/axial-label-changes.py DATASET_DIR")
root = sys.argv[1]
truth = {s["patientId"]: s["levels"] for s in json.load(open(os.path.join(root, "truth.json")))["studies"]}
changed, total = collections.Counter(), collections.Counter()
for row in csv.DictReader(open(os.path.join(root, "labels.csv"))):
    if row["view"] != "axial":
        continue
    stated = truth[row["patient_id"]].get(row["level"], "healthy")
    total[stated] += 1
    if row["class"] != stated:
        changed[f"{stated}->{row['class']}"] += 1
n, c = sum(total.values()), sum(changed.values())
print(json.dumps({"axial_labels": n, "differ_from_truth": c, "fraction": round(c / n, 3), "by_change": changed, "by_truth": total}))
