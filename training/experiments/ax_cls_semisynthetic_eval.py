"""Axial classifier on real texture (issue 14, part 3): one JSON line with three separate reports.

    training/.venv/bin/python -m training.experiments.ax_cls_semisynthetic_eval RUN_OR_MODEL [--semi DIR]
        [--phantom DIR] [--split FILE] [--part test]

RUN_OR_MODEL: models/<name> (ONNX, as shipped) or a training run folder. --semi: a folder written by
training/tools/make_semisynthetic_axial.py (default /tmp/semi/semi); --split: its split.json (default DIR/split.json);
--phantom: a phantom training folder whose patients the split also covers.

- ``semisynthetic``: the part's real slices with **inserted** pathology (bulge / central / left / right; the
  unmodified originals and any --sham slices left out): accuracy, balanced accuracy (over the 4 true classes),
  per-class recall, the confusion matrix (rows true, columns predicted, the model's 5 classes) and the left/right
  confusion;
- ``unmodified``: the part's unmodified real slices (assumed healthy, may hold a bulge): counts per predicted class;
- ``sham`` (where the folder has them): the sub-pixel sham insertions (class healthy): counts per predicted class;
- ``phantom``: the phantom records of the part: accuracy, balanced accuracy, per-class recall.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from training import preprocess as P
from training import splits as S
from training.data import build_crops
from training.datasets import load_records
from training.inference import Runner


def predict(runner, records):
    crops = build_crops(records, "axial", None, progress=False)
    x = (
        np.stack([P.crop_to_input(c) for c in crops["crops"]])
        if len(crops["crops"])
        else np.zeros((0, 3, 64, 64), np.float32)
    )
    prob = runner(x) if len(x) else np.zeros((0, len(runner.classes)), np.float32)
    return crops, (prob.argmax(1) if len(prob) else np.zeros(0, int))


def scores(y, pred, classes, true_classes):
    n = len(classes)
    cm = np.zeros((n, n), int)
    for t, p in zip(y, pred):
        cm[t, p] += 1
    recall = {classes[c]: (round(float(cm[c, c] / cm[c].sum()), 4) if cm[c].sum() else None) for c in true_classes}
    rs = [v for v in recall.values() if v is not None]
    return {
        "n": int(len(y)),
        "accuracy": round(float((np.asarray(y) == np.asarray(pred)).mean()), 4) if len(y) else None,
        "balanced_accuracy": round(float(np.mean(rs)), 4) if rs else None,
        "recall": recall,
        "confusion_matrix": cm.tolist(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--semi", default="/tmp/semi/semi2")
    ap.add_argument("--phantom", default="/tmp/semi/phantom")
    ap.add_argument("--split")
    ap.add_argument("--part", default="test", choices=("train", "val", "test"))
    a = ap.parse_args(argv)
    runner = Runner(a.model, "cpu")
    classes = list(runner.classes)
    split = S.read_split(a.split or os.path.join(a.semi, "split.json"))
    keep = split[a.part]
    semi = S.select(load_records(a.semi, "classification", "axial"), keep)
    orig = [r for r in semi if r.sample_id.endswith("_ax_orig")]
    sham = [r for r in semi if "_ax_sham" in r.sample_id]
    ins = [r for r in semi if not r.sample_id.endswith("_ax_orig") and "_ax_sham" not in r.sample_id]
    out = {
        "model": os.path.normpath(a.model),
        "runtime": runner.kind,
        "split": f"{a.split or os.path.join(a.semi, 'split.json')}:{a.part}",
        "real_slices": len({r.patient_id for r in semi}),
    }

    crops, pred = predict(runner, ins)
    y = crops["labels"]
    s = scores(y, pred, classes, sorted(set(int(v) for v in y)))
    li, ri = classes.index("left"), classes.index("right")
    cm = np.asarray(s["confusion_matrix"])
    s["left_right"] = {
        "left_called_right": int(cm[li, ri]),
        "right_called_left": int(cm[ri, li]),
        "left_n": int(cm[li].sum()),
        "right_n": int(cm[ri].sum()),
        "side_error_rate": round(
            float((cm[li, ri] + cm[ri, li]) / max(1, cm[li, li] + cm[li, ri] + cm[ri, ri] + cm[ri, li])), 4
        ),
    }
    out["semisynthetic"] = s

    crops, pred = predict(runner, orig)
    out["unmodified"] = {"n": len(pred), "predicted": {c: int((pred == i).sum()) for i, c in enumerate(classes)}}
    if sham:
        crops, pred = predict(runner, sham)
        out["sham"] = {"n": len(pred), "predicted": {c: int((pred == i).sum()) for i, c in enumerate(classes)}}

    if a.phantom and os.path.isdir(a.phantom):
        ph = S.select(load_records(a.phantom, "classification", "axial"), keep)
        crops, pred = predict(runner, ph)
        y = crops["labels"]
        p = scores(y, pred, classes, sorted(set(int(v) for v in y)))
        p["patients"] = len(set(crops["patients"]))
        out["phantom"] = p
    print(json.dumps(out, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
