"""What a finished training run leaves in its folder: ``checkpoint.pt`` (weights, architecture, classes,
preprocessing spec, training data credits, compact metrics, configuration), ``config.json``, ``history.json``,
``metrics.json``, ``predictions_<part>.json`` (classification), the plots and the markdown summary."""

from __future__ import annotations

import os
import time
from dataclasses import asdict

import torch

from training import __version__
from training import preprocess as P
from training import report as R
from training.config import TrainConfig
from training.inference import CHECKPOINT_NAME
from training.loop import COSINE_FLOOR
from training.models import DISPLAY, count_params


def write_run(
    cfg: TrainConfig,
    model,
    device,
    t_start: float,
    *,
    arch_kwargs: dict,
    classes: list,
    split: dict,
    parts: dict,
    results: dict,
    preds: dict,
    history: list,
    params_frozen,
    data_credits: list,
) -> str:
    """Writes the run's files into ``cfg.out``; returns the checkpoint's path. ``t_start``: ``time.time()`` when the
    run began (the files' ``seconds``)."""
    seg = cfg.task == "segmentation"
    counts = {k: (len(v["images"]) if seg else len(v["crops"])) for k, v in parts.items()}
    skipped = {} if seg else {k: len(v.get("skipped", [])) for k, v in parts.items()}
    ckpt = {
        "format": "lumbar-ai-checkpoint/1",
        "training_version": __version__,
        "arch": cfg.arch,
        "arch_kwargs": arch_kwargs,
        "task": cfg.task,
        "view": cfg.view,
        "classes": classes,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "preprocessing": P.seg_preprocessing_spec(cfg.seg_size, cfg.smooth_masks, cfg.crop_size)
        if seg
        else P.preprocessing_spec(cfg.view),
        "upsample": ("bilinear-probability" if cfg.smooth_masks else "nearest-mask") if seg else None,
        "training_data": data_credits,
        "metrics": {k: _compact(v, seg) for k, v in results.items() if v},
        "images": counts,
        "split": {k: split.get(k) for k in ("method", "seed")},
        "config": asdict(cfg),
        "params": count_params(model),
        "torch_version": torch.__version__,
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "seconds": round(time.time() - t_start, 1),
        "history_tail": history[-1] if history else None,
    }
    torch.save(ckpt, os.path.join(cfg.out, CHECKPOINT_NAME))
    R.write_json(asdict(cfg), os.path.join(cfg.out, "config.json"))
    R.write_json(history, os.path.join(cfg.out, "history.json"))
    R.write_json(
        {
            "task": cfg.task,
            "view": cfg.view,
            "arch": cfg.arch,
            "classes": classes,
            "images": counts,
            "skipped_no_disc": skipped,
            "params": ckpt["params"],
            "params_frozen_phase": params_frozen,
            "parts": results,
            "seconds": round(time.time() - t_start, 1),
        },
        os.path.join(cfg.out, "metrics.json"),
    )
    if not seg:
        for name in ("val", "test"):
            if preds.get(name) is not None:
                R.write_json(
                    {
                        "ids": parts[name]["ids"],
                        "labels": parts[name]["labels"],
                        "probs": preds[name],
                        "mask_source": parts[name]["mask_source"],
                    },
                    os.path.join(cfg.out, f"predictions_{name}.json"),
                )
    if cfg.plots:
        R.plot_curves(history, cfg.out, cfg.task)
        final = results.get("test") or results.get("val")
        fpart = "test" if results.get("test") else "val"
        if not seg and final:
            R.plot_confusion(
                final["confusion_matrix"],
                classes,
                os.path.join(cfg.out, "confusion.png"),
                f"Confusion matrix ({fpart})",
            )
            R.plot_roc_pr(parts[fpart]["labels"], preds[fpart], classes, cfg.out)
    info = {
        "model": DISPLAY.get(cfg.arch, cfg.arch),
        "task": cfg.task,
        "view": cfg.view,
        "data": ", ".join(f"{c['name']} ({c['kind']})" for c in data_credits),
        "images (train/val/test)": f"{counts['train']}/{counts['val']}/{counts['test']}"
        + (f" (skipped, no disc found: {sum(skipped.values())})" if skipped and sum(skipped.values()) else ""),
        "patients (train/val/test)": f"{len(split['train'])}/{len(split['val'])}/{len(split['test'])}",
        "epochs run": len(history),
        "optimizer steps": history[-1]["steps"] if history else 0,
        "optimizer": f"{cfg.optimizer} lr {cfg.lr}"
        + (
            f" betas ({cfg.beta1}, {cfg.beta2}) eps {cfg.eps}"
            if cfg.optimizer == "adam"
            else f" momentum {cfg.momentum}"
        ),
        "batch size": cfg.batch_size,
        "parameters": ckpt["params"],
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "seconds": round(time.time() - t_start, 1),
    }
    if cfg.lr_schedule != "constant":
        info["LR schedule"] = f"{cfg.lr_schedule} (to {COSINE_FLOOR} x LR)"
    if history and history[-1].get("stopped"):
        info["stopped"] = history[-1]["stopped"]
    R.write_summary(cfg.out, f"Training run: {cfg.name or os.path.basename(cfg.out)}", cfg.task, info, results)
    return os.path.join(cfg.out, CHECKPOINT_NAME)


def _compact(m: dict, seg: bool) -> dict:
    if seg:
        return {k: m[k] for k in ("dice", "iou", "accuracy", "precision", "recall", "mean_dice", "n_images") if k in m}
    return {
        "accuracy": m["accuracy"],
        "balanced_accuracy": m["balanced_accuracy"],
        "macro_f1": m["macro"]["f1"],
        "weighted_f1": m["weighted"]["f1"],
        "macro_roc_auc": m["macro"].get("roc_auc"),
        "per_class_recall": {c: v["recall"] for c, v in m["per_class"].items()},
        "n": m["n"],
    }
