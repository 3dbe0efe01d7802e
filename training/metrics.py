"""Evaluation metrics (paper section II.C), numpy only; the tests compare them with scikit-learn.

Segmentation (binary, threshold 0.5): Dice = 2|S∩G|/(|S|+|G|), IoU = |S∩G|/|S∪G|, pixel accuracy,
precision, recall. ``segmentation_metrics`` reports them over all pixels of the set pooled
("global") and as the mean of per-image values ("mean_*", an image where S and G are both empty
counts 1 for Dice and IoU).

Classification: accuracy; per class sensitivity (recall), specificity, precision, F1, support,
one-vs-rest ROC AUC; macro and weighted (by support) averages; balanced accuracy (= macro recall);
confusion matrix (rows true, columns predicted). The paper's "class accuracy" (Tables IV, VII) is
the per-class recall.
"""

from __future__ import annotations

import numpy as np


def _div(a: float, b: float, empty: float = 0.0) -> float:
    return float(a) / float(b) if b else empty


def seg_counts(pred: np.ndarray, truth: np.ndarray) -> dict:
    p = np.asarray(pred).astype(bool)
    t = np.asarray(truth).astype(bool)
    tp = int(np.sum(p & t))
    fp = int(np.sum(p & ~t))
    fn = int(np.sum(~p & t))
    tn = int(p.size - tp - fp - fn)
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def seg_from_counts(c: dict) -> dict:
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    return {
        "dice": _div(2 * tp, 2 * tp + fp + fn, 1.0),
        "iou": _div(tp, tp + fp + fn, 1.0),
        "accuracy": _div(tp + tn, tp + tn + fp + fn),
        "precision": _div(tp, tp + fp),
        "recall": _div(tp, tp + fn),
    }


def dice(pred, truth) -> float:
    return seg_from_counts(seg_counts(pred, truth))["dice"]


def iou(pred, truth) -> float:
    return seg_from_counts(seg_counts(pred, truth))["iou"]


def segmentation_metrics(preds, truths) -> dict:
    """``preds``/``truths``: sequences (or arrays N x ...) of binary masks."""
    total = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    per = []
    for p, t in zip(preds, truths):
        c = seg_counts(p, t)
        for k in total:
            total[k] += c[k]
        per.append(seg_from_counts(c))
    out = seg_from_counts(total)
    for k in ("dice", "iou", "accuracy", "precision", "recall"):
        out[f"mean_{k}"] = float(np.mean([m[k] for m in per])) if per else 0.0
    out["n_images"] = len(per)
    out["pixels"] = total
    return out


def confusion(y_true, y_pred, n: int) -> np.ndarray:
    cm = np.zeros((n, n), dtype=np.int64)
    for t, p in zip(np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)):
        cm[t, p] += 1
    return cm


def roc_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary ROC (fpr, tpr, thresholds) with ties handled like scikit-learn (without dropping
    intermediate points)."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.where(np.diff(s))[0]
    idx = np.r_[distinct, y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = (idx + 1) - tps
    tps = np.r_[0, tps]
    fps = np.r_[0, fps]
    thr = np.r_[np.inf, s[idx]]
    P, N = y.sum(), (~y).sum()
    tpr = tps / P if P else np.zeros_like(tps, dtype=float)
    fpr = fps / N if N else np.zeros_like(fps, dtype=float)
    return fpr.astype(float), tpr.astype(float), thr


def roc_auc(y, score) -> float | None:
    y = np.asarray(y).astype(bool)
    if y.all() or (~y).all():
        return None
    fpr, tpr, _ = roc_curve(y, score)
    return float(np.trapezoid(tpr, fpr))


def pr_curve(y, score) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at each distinct threshold (descending scores), for plotting."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    idx = np.r_[np.where(np.diff(s))[0], y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = (idx + 1) - tps
    precision = tps / np.maximum(tps + fps, 1)
    recall = tps / max(int(y.sum()), 1)
    return np.r_[1.0, precision], np.r_[0.0, recall]


def average_precision(y, score) -> float | None:
    y = np.asarray(y).astype(bool)
    if not y.any():
        return None
    p, r = pr_curve(y, score)
    return float(np.sum(np.diff(r) * p[1:]))


def classification_metrics(y_true, y_pred, classes, y_prob=None) -> dict:
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    n = len(classes)
    cm = confusion(y_true, y_pred, n)
    total = int(cm.sum())
    per = {}
    for i, name in enumerate(classes):
        tp = int(cm[i, i])
        fn = int(cm[i].sum() - tp)
        fp = int(cm[:, i].sum() - tp)
        tn = total - tp - fn - fp
        prec = _div(tp, tp + fp)
        rec = _div(tp, tp + fn)
        per[name] = {
            "support": tp + fn,
            "sensitivity": rec,
            "recall": rec,
            "specificity": _div(tn, tn + fp),
            "precision": prec,
            "f1": _div(2 * prec * rec, prec + rec),
            "roc_auc": None,
            "average_precision": None,
        }
        if y_prob is not None:
            prob = np.asarray(y_prob, dtype=np.float64)
            per[name]["roc_auc"] = roc_auc(y_true == i, prob[:, i])
            per[name]["average_precision"] = average_precision(y_true == i, prob[:, i])
    support = np.array([per[c]["support"] for c in classes], dtype=float)
    present = support > 0

    def avg(key: str, weighted: bool) -> float:
        vals = np.array([per[c][key] for c in classes], dtype=float)
        if weighted:
            return float(np.sum(vals * support) / support.sum()) if support.sum() else 0.0
        return float(np.mean(vals)) if n else 0.0

    out = {
        "n": total,
        "classes": list(classes),
        "accuracy": _div(np.trace(cm), total),
        "balanced_accuracy": float(np.mean([per[c]["recall"] for c, ok in zip(classes, present) if ok]))
        if present.any()
        else 0.0,
        "macro": {k: avg(k, False) for k in ("precision", "recall", "f1", "specificity")},
        "weighted": {k: avg(k, True) for k in ("precision", "recall", "f1", "specificity")},
        "per_class": per,
        "confusion_matrix": cm.tolist(),
    }
    aucs = [per[c]["roc_auc"] for c in classes if per[c]["roc_auc"] is not None]
    out["macro"]["roc_auc"] = float(np.mean(aucs)) if aucs else None
    return out
