"""``python -m training evaluate --model models/<name> --data DIR``.

Runs an exported model (onnxruntime, exactly what ships) or a training run's checkpoint on every
matching image of a data folder (SPIDER, phantom or Mendeley layout), optionally restricted to one
part of a split JSON, and prints the metrics as one JSON line, last on stdout.

Segmentation is scored at each image's own resolution (the prediction is un-letterboxed first), on
the disc channel. Classification needs disc masks to crop: ground truth where the data set has
masks, else ``--seg-model`` segments the image first (as the pipeline does).
"""

from __future__ import annotations

import json
import os

import numpy as np
from tqdm import tqdm

from training import metrics as M
from training import preprocess as P
from training import report as R
from training import splits as S
from training.data import build_crops
from training.datasets import credits_for, detect_layout, load_records
from training.inference import Runner


def evaluate(
    model: str,
    data: str,
    seg_model: str | None = None,
    split: str | None = None,
    part: str = "test",
    out: str | None = None,
    both: str = "drop",
    device: str = "auto",
    progress: bool = True,
    predicted_masks: bool = False,
) -> dict:
    runner = Runner(model, device)
    task, view, classes = runner.task, runner.view, list(runner.classes)
    drop_bulge = view == "axial" and "bulge" not in classes
    records = load_records(data, task, view, both=both, drop_bulge=drop_bulge)
    if split:
        records = S.select(records, S.read_split(split).get(part, []))
    result = {
        "model": os.path.normpath(model),
        "task": task,
        "view": view,
        "data": os.path.normpath(data),
        "layout": detect_layout(data),
        "data_kind": credits_for(data)["kind"],
        "split": split and f"{split}:{part}",
        "runtime": runner.kind,
    }
    if predicted_masks:
        if task != "classification" or not seg_model:
            raise ValueError("--predicted-masks needs a classifier and --seg-model")
        for r in records:
            r.mask_path = None  # crop with the segmentation model's masks, as the pipeline does
        result["masks"] = f"predicted by {os.path.normpath(seg_model)}"
    if task == "segmentation":
        preds, truths = [], []
        for r in tqdm(records, desc="segment", disable=not progress, leave=False):
            preds.append(runner.segment(r.image()))
            truths.append(r.disc_mask())
        m = M.segmentation_metrics(preds, truths)
        result.update({k: m[k] for k in ("dice", "iou", "accuracy", "precision", "recall", "mean_dice", "mean_iou")})
        result["n"] = m["n_images"]
        full = m
    else:
        predictor = Runner(seg_model, device).segment if seg_model else None
        crops = build_crops(records, view, predictor, progress)
        x = (
            np.stack([P.crop_to_input(c) for c in crops["crops"]])
            if len(crops["crops"])
            else np.zeros((0, 3, 64, 64), np.float32)
        )
        prob = runner(x) if len(x) else np.zeros((0, len(classes)), np.float32)
        m = M.classification_metrics(
            crops["labels"], prob.argmax(1) if len(prob) else [], classes, prob if len(prob) else None
        )
        result.update(
            {
                "n": m["n"],
                "skipped_no_disc": len(crops["skipped"]),
                "accuracy": m["accuracy"],
                "balanced_accuracy": m["balanced_accuracy"],
                "macro_f1": m["macro"]["f1"],
                "weighted_f1": m["weighted"]["f1"],
                "macro_roc_auc": m["macro"].get("roc_auc"),
                "per_class": {
                    c: {k: v[k] for k in ("sensitivity", "specificity", "precision", "f1", "roc_auc", "support")}
                    for c, v in m["per_class"].items()
                },
                "confusion_matrix": m["confusion_matrix"],
                "classes": classes,
            }
        )
        full = m
        if out and len(prob):
            os.makedirs(out, exist_ok=True)
            R.plot_confusion(m["confusion_matrix"], classes, os.path.join(out, "confusion.png"))
            R.plot_roc_pr(crops["labels"], prob, classes, out)
    if out:
        os.makedirs(out, exist_ok=True)
        R.write_json({"summary": result, "metrics": full}, os.path.join(out, "metrics.json"))
        R.write_summary(
            out,
            f"Evaluation of {os.path.basename(os.path.normpath(model))}",
            task,
            {k: result[k] for k in ("model", "data", "layout", "data_kind", "split", "runtime")},
            {"evaluation": full},
        )
    return result


def print_result(result: dict) -> None:
    print(json.dumps(result, separators=(",", ":"), default=R._default), flush=True)
