"""Training loops for segmentation (U-Net) and classification (DiscNet, baselines, transfer).

Paper settings used as defaults:
- U-Net: stochastic gradient descent, LR 0.01, batch size 8, 35 epochs ("optimal number of epochs
  was 35"), dropout grid-searched 0.1..0.5 (default 0.1). Momentum 0.9 is our assumption (the
  paper names no momentum). Loss: binary cross-entropy + soft Dice (the paper names no loss).
- DiscNet: Adam, LR 1e-5, beta1 0.9, beta2 0.9, eps 1e-8 (section III.B), categorical
  cross-entropy, early stopping. The other CNNs use the same optimizer settings except where a
  command line option says otherwise; transfer learning trains the head at ``--lr`` (default 1e-3)
  and fine-tunes everything at 1e-5.
- Augmentation (training only): horizontal flip (axial: left <-> right labels swapped) and
  brightness x U(0.8, 1.2). Beyond the paper, segmentation only: ``--augment-extra`` (similarity transform,
  gamma) and ``--augment-mri`` (:class:`MRIAugment`: smooth multiplicative bias field, Rician noise); any task:
  ``--oversample SOURCE=FRACTION`` (training draws with replacement: that data source makes up FRACTION of each epoch).

Early stopping watches the validation loss (patience ``--patience`` epochs) and restores the best
weights. ``--max-steps`` caps optimizer steps (tests, smoke runs). Device: CUDA when available.

The pieces, one module each (this module keeps :func:`train`, which strings them together, and re-exports their
public names so that ``from training.engine import TrainConfig, train`` keeps working):

- :mod:`training.config`: :class:`TrainConfig`, :data:`PAPER`, :func:`check_seg_sizes`;
- :mod:`training.prepare`: :func:`load_all`, :func:`make_split`, :func:`prepare` (also used by ``training.pack``);
- :mod:`training.loop`: seeding, optimizer, LR schedule, :class:`MRIAugment`, ``--oversample``, the epoch loop;
- :mod:`training.scoring`: :func:`seg_loss`, :func:`predict_logits`, :func:`eval_seg`, :func:`eval_cls`;
- :mod:`training.checkpoints`: the checkpoint and the other files a run writes.
"""

from __future__ import annotations

import os
import time

import torch

from training import preprocess as P
from training import splits as S
from training.checkpoints import _compact, write_run
from training.config import PAPER, TrainConfig, check_seg_sizes
from training.data import seg_classes
from training.datasets import classes_for, credits_for
from training.inference import init_state_dict, pick_device
from training.loop import (
    COSINE_FLOOR,
    MRIAugment,
    StepBudget,
    class_weights,
    cosine_factor,
    fit,
    make_optimizer,
    oversample_weights,
    seed_everything,
)
from training.models import TRANSFER, build_model, count_params
from training.pack import is_packed, load_packed
from training.prepare import load_all, make_split, prepare
from training.scoring import eval_cls, eval_seg, evaluate_parts, predict_logits, seg_loss

__all__ = [
    "COSINE_FLOOR",
    "PAPER",
    "MRIAugment",
    "StepBudget",
    "TrainConfig",
    "_compact",
    "check_seg_sizes",
    "class_weights",
    "cosine_factor",
    "eval_cls",
    "eval_seg",
    "fit",
    "load_all",
    "make_optimizer",
    "make_split",
    "oversample_weights",
    "predict_logits",
    "prepare",
    "seed_everything",
    "seg_loss",
    "train",
]


def train(cfg: TrainConfig, prepared: tuple | None = None) -> dict:
    """Train one model; ``prepared`` = (records, split, parts) reuses data made for another run."""
    cfg = cfg.resolved()
    if cfg.lr_schedule == "cosine-time" and not (cfg.time_limit and cfg.time_limit > 0):
        raise SystemExit("--lr-schedule cosine-time needs --time-limit (seconds, > 0)")
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
    os.makedirs(cfg.out, exist_ok=True)
    t_start = time.time()
    packed = None
    if prepared is None and cfg.data and all(is_packed(d) for d in cfg.data):
        if len(cfg.data) != 1:
            raise SystemExit(
                "one packed .npz at a time (pack several data folders into one with `python -m training pack`)"
            )
        if cfg.split:
            raise SystemExit("a packed .npz carries its own split: leave --split out")
        packed, split, parts = load_packed(cfg.data[0])
        if (packed["task"], packed["view"]) != (cfg.task, cfg.view):
            raise SystemExit(f"{cfg.data[0]} holds {packed['task']}/{packed['view']} data, not {cfg.task}/{cfg.view}")
        cfg.seg_size, cfg.seg_levels, cfg.both, cfg.drop_bulge = (
            packed["seg_size"],
            packed["seg_levels"],
            packed["both"],
            packed["drop_bulge"],
        )
        cfg.smooth_masks = bool(packed.get("smooth_masks", False))
    elif prepared is None:
        records = load_all(cfg)
        split = make_split(cfg, records)
        parts = prepare(cfg, records, split)
    else:
        records, split, parts = prepared
    S.write_split(split, os.path.join(cfg.out, "split.json"))
    seg = cfg.task == "segmentation"
    if seg:
        check_seg_sizes(cfg)
    classes = seg_classes(cfg.seg_levels) if seg else list(classes_for(cfg.view, cfg.drop_bulge))
    arch_kwargs = {
        "num_classes": len(classes),
        "in_channels": 1 if seg else 3,
        "input_size": cfg.seg_size if seg else P.CROP_SIZE,
    }
    if cfg.filters:
        arch_kwargs["filters"] = list(cfg.filters)
    if cfg.dropout is not None:
        arch_kwargs["dropout"] = cfg.dropout
    model = build_model(cfg.arch, weights=cfg.pretrained, **arch_kwargs).to(device)
    if cfg.init:
        model.load_state_dict(init_state_dict(cfg.init, model))
    weights = None if seg else class_weights(parts["train"]["labels"], len(classes), cfg.class_weights)
    history: list[dict] = []
    if cfg.arch in TRANSFER:
        model.freeze_backbone(True)
        params_frozen = count_params(model)
        fit(cfg, model, parts, classes, device, cfg.epochs, cfg.lr, "frozen", history, weights)
        model.freeze_backbone(False)
        fit(cfg, model, parts, classes, device, cfg.finetune_epochs, cfg.finetune_lr, "finetune", history, weights)
    else:
        params_frozen = None
        fit(cfg, model, parts, classes, device, cfg.epochs, cfg.lr, "train", history, weights)

    results, preds = evaluate_parts(model, parts, classes, device, seg, weights, cfg.eval_train)
    data_credits = packed["training_data"] if packed else [credits_for(d) for d in cfg.data]
    checkpoint = write_run(
        cfg,
        model,
        device,
        t_start,
        arch_kwargs=arch_kwargs,
        classes=classes,
        split=split,
        parts=parts,
        results=results,
        preds=preds,
        history=history,
        params_frozen=params_frozen,
        data_credits=data_credits,
    )
    return {"run": cfg.out, "metrics": results, "history": history, "classes": classes, "checkpoint": checkpoint}
