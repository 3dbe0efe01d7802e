"""Evaluation of a model on a prepared part (validation during training, every part at the end): logits in
batches, the segmentation loss and metrics, the classification loss, probabilities and metrics."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from training import metrics as M
from training import preprocess as P
from training.data import SegDataset


def seg_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy + (1 - soft Dice), averaged over channels."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dims = (0, 2, 3)
    inter = (p * target).sum(dims)
    den = p.sum(dims) + target.sum(dims)
    soft_dice = ((2 * inter + 1.0) / (den + 1.0)).mean()
    return bce + (1 - soft_dice)


@torch.no_grad()
def predict_logits(model, x: np.ndarray | torch.Tensor, device, batch_size: int = 16) -> torch.Tensor:
    model.eval()
    outs = []
    for i in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[i : i + batch_size]).to(device)
        outs.append(model(xb).float().cpu())
    return torch.cat(outs) if outs else torch.zeros(0)


def eval_seg(model, part: dict, device, batch_size: int = 8) -> tuple[float | None, dict | None, np.ndarray | None]:
    if len(part["images"]) == 0:
        return None, None, None
    ds = SegDataset(part["images"], part["targets"])
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.from_numpy(part["targets"].astype(np.float32))
    logits = predict_logits(model, x, device, batch_size)
    loss = float(seg_loss(logits, y))
    pred = (torch.sigmoid(logits[:, 0]) > 0.5).numpy()
    m = M.segmentation_metrics(pred, part["targets"][:, 0])
    return loss, m, pred


def eval_cls(model, part: dict, classes, device, weights=None) -> tuple[float | None, dict | None, np.ndarray | None]:
    if len(part["crops"]) == 0:
        return None, None, None
    x = np.stack([P.crop_to_input(c) for c in part["crops"]])
    logits = predict_logits(model, x, device)
    y = torch.from_numpy(part["labels"])
    loss = float(F.cross_entropy(logits, y, weight=weights))
    prob = torch.softmax(logits, 1).numpy()
    m = M.classification_metrics(part["labels"], prob.argmax(1), classes, prob)
    return loss, m, prob


def evaluate_parts(model, parts: dict, classes, device, seg: bool, weights=None, eval_train: bool = True):
    """Final metrics per part (``None`` for train when ``eval_train`` is off, or for an empty part) and, for
    classification, the probabilities per part: ``(results, preds)``."""
    results, preds = {}, {}
    for name in ("train", "val", "test"):
        if name == "train" and not eval_train:
            results[name] = None
            continue
        if seg:
            loss, m, _ = eval_seg(model, parts[name], device)
        else:
            loss, m, prob = eval_cls(model, parts[name], classes, device, weights)
            preds[name] = prob
        if m is not None:
            m["loss"] = loss
        results[name] = m
    return results, preds
