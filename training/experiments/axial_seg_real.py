"""Axial disc segmentation on the real project-annotated Mendeley slices (issue 14): one JSON line.

    training/.venv/bin/python -m training.experiments.axial_seg_real MODEL_DIR [--part test|val|train|all]
        [--data annotations/mendeley-axial] [--split RUN/split.json] [--seed 0]
        [--phantom DIR] [--min-area 200] [--per-slice FILE.json]

MODEL_DIR is a shipped model folder (model.onnx + model.json, run by onnxruntime) or a training run folder
(checkpoint.pt). Every slice goes through ``training.inference.Runner.segment``, i.e. exactly the card's
preprocessing (letterbox, threshold, upsampling back to 320x320), and is scored at its own resolution against the
project masks (1 = disc; slices cut through an endplate or a vertebral body have none: negatives).

Parts: ``test`` = labels.csv's held-out test slices; ``val`` / ``train`` = the train slices as the annotated
loader assigns them (``training.datasets.annotated.assign_parts`` with ``--seed``, the split a training run on
these annotations writes), or as ``--split`` (a run's split.json) says; ``all`` = every slice.

Figures, over all slices of the part and per contrast (``T1``, ``T2``):
- ``dice``: Dice over the pixels of the disc slices pooled; ``mean_dice``: mean of the per-slice Dice on disc slices;
- ``found``: fraction of disc slices where any disc pixel is predicted; ``found_area``: where the largest predicted
  component (8-connectivity) has at least ``--min-area`` pixels;
- ``clean``: fraction of non-disc slices where nothing is predicted; ``clean_area``: where no component reaches
  ``--min-area`` pixels;
- ``dice_all``: Dice over the pixels of every slice of the part (false positives on non-disc slices count).
``--phantom DIR`` adds the same segmentation metrics (pooled Dice, mean Dice) on every axial image of a phantom
training layout folder (synthetic; use one generated with a seed no model was trained on).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import cv2
import numpy as np

from training import metrics as M
from training import splits as S
from training.datasets import annotated, load_records
from training.inference import Runner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(ROOT, "annotations", "mendeley-axial")


def largest_area(mask: np.ndarray) -> int:
    n, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    return int(stats[1:, cv2.CC_STAT_AREA].max()) if n > 1 else 0


def select_part(records, part: str, split: str | None, seed: int):
    if part == "all":
        return records
    if split:
        return S.select(records, S.read_split(split).get(part, []))
    parts = annotated.assign_parts(records, seed)
    return [r for r in records if parts.get(r.patient_id) == part]


def summarise(rows: list[dict], min_area: int) -> dict:
    disc = [r for r in rows if r["disc"]]
    neg = [r for r in rows if not r["disc"]]
    tp = sum(r["tp"] for r in disc)
    den = sum(r["pred_px"] + r["true_px"] for r in disc)
    tp_all = sum(r["tp"] for r in rows)
    den_all = sum(r["pred_px"] + r["true_px"] for r in rows)

    def frac(xs):
        return float(np.mean(xs)) if xs else None

    return {
        "n": len(rows),
        "n_disc": len(disc),
        "n_no_disc": len(neg),
        "dice": (2 * tp / den if den else None) if disc else None,
        "mean_dice": frac([r["dice"] for r in disc]),
        "found": frac([r["pred_px"] > 0 for r in disc]),
        "found_area": frac([r["largest"] >= min_area for r in disc]),
        "clean": frac([r["pred_px"] == 0 for r in neg]),
        "clean_area": frac([r["largest"] < min_area for r in neg]),
        "dice_all": (2 * tp_all / den_all if den_all else None) if rows else None,
    }


def score_real(runner: Runner, records, min_area: int) -> tuple[dict, list[dict]]:
    rows = []
    for r in records:
        pred = runner.segment(r.image()).astype(bool)
        true = r.disc_mask().astype(bool)
        tp = int((pred & true).sum())
        p, t = int(pred.sum()), int(true.sum())
        rows.append(
            {
                "id": r.sample_id,
                "cut": r.meta["cut"],
                "contrast": r.meta["contrast"],
                "disc": bool(r.meta["disc"]),
                "tp": tp,
                "pred_px": p,
                "true_px": t,
                "dice": (2 * tp / (p + t)) if (p + t) else 1.0,
                "largest": largest_area(pred),
            }
        )
    out = summarise(rows, min_area)
    for c in ("T1", "T2"):
        out[c] = summarise([x for x in rows if x["contrast"] == c], min_area)
    return out, rows


def score_phantom(runner: Runner, root: str) -> dict:
    recs = load_records(root, "segmentation", "axial")
    preds, truths = [], []
    for r in recs:
        preds.append(runner.segment(r.image()))
        truths.append(r.disc_mask())
    m = M.segmentation_metrics(preds, truths)
    return {
        "data": os.path.normpath(root),
        "n": m["n_images"],
        "dice": m["dice"],
        "mean_dice": m["mean_dice"],
        "iou": m["iou"],
        "precision": m["precision"],
        "recall": m["recall"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="models/<name> (model.onnx + model.json) or a training run folder")
    ap.add_argument("--part", default="test", choices=["test", "val", "train", "all"])
    ap.add_argument(
        "--data",
        default=DEFAULT_DATA,
        help="annotated layout (labels.csv + masks/); images from $LUMBAR_MENDELEY_AXIAL_DIR or the default folder",
    )
    ap.add_argument(
        "--split",
        default=None,
        help="a run's split.json: which slices are val / train (default: the loader's seeded choice)",
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the loader's validation choice (as the run's --seed)")
    ap.add_argument(
        "--phantom", default=None, help="phantom training layout folder: also score every axial image of it"
    )
    ap.add_argument(
        "--min-area", type=int, default=200, help="pixels: a largest component this big counts as a found disc"
    )
    ap.add_argument("--per-slice", default=None, help="write the per-slice figures to this JSON file")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(argv)

    runner = Runner(a.model, a.device)
    if runner.task != "segmentation":
        raise SystemExit(f"{a.model}: not a segmentation model")
    records = select_part(load_records(a.data, "segmentation", "axial"), a.part, a.split, a.seed)
    if not records:
        raise SystemExit(f"no annotated slices in part {a.part!r}")
    real, rows = score_real(runner, records, a.min_area)
    result = {
        "model": os.path.normpath(a.model),
        "runtime": runner.kind,
        "version": runner.card.get("version") if runner.kind == "onnx" else None,
        "data": "real axial slices, Mendeley Lumbar Spine MRI (CC BY 4.0) with lumbar-ai project disc masks",
        "part": a.part,
        "split": a.split or ("labels.csv test" if a.part == "test" else f"annotated.assign_parts seed {a.seed}"),
        "min_area": a.min_area,
        "real": real,
    }
    if a.phantom:
        result["phantom"] = score_phantom(runner, a.phantom)
    if a.per_slice:
        with open(a.per_slice, "w") as f:
            json.dump(rows, f, indent=1)
    print(json.dumps(result, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
