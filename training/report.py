"""Run reports: metrics JSON, a markdown summary and PNG plots (matplotlib, Agg backend)."""

from __future__ import annotations

import json
import os

import matplotlib
import numpy as np

from training import metrics as M

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 -- pyplot must come after matplotlib.use("Agg") (no display here)


def write_json(obj, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, default=_default)
    return path


def _default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(type(o))


def plot_curves(history: list[dict], out_dir: str, task: str) -> list[str]:
    files = []
    if not history:
        return files
    ep = [h["epoch"] for h in history]
    for key, title in (
        ("loss", "Loss"),
        ("dice" if task == "segmentation" else "accuracy", "Dice" if task == "segmentation" else "Accuracy"),
        ("iou", "IoU"),
    ):
        if task != "segmentation" and key == "iou":
            continue
        tr = [h.get(f"train_{key}") for h in history]
        va = [h.get(f"val_{key}") for h in history]
        if all(v is None for v in tr + va):
            continue
        fig, ax = plt.subplots(figsize=(5, 3.5))
        if any(v is not None for v in tr):
            ax.plot(ep, [np.nan if v is None else v for v in tr], label="training")
        if any(v is not None for v in va):
            ax.plot(ep, [np.nan if v is None else v for v in va], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        p = os.path.join(out_dir, f"{key}.png")
        fig.savefig(p, dpi=100)
        plt.close(fig)
        files.append(p)
    return files


def plot_confusion(cm, classes, path: str, title: str = "Confusion matrix") -> str:
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2, 1.2 * len(classes) + 1.5))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    vmax = cm.max() if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > vmax / 2 else "black")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_roc_pr(y_true, y_prob, classes, out_dir: str) -> list[str]:
    y_true = np.asarray(y_true)
    y_prob = np.asarray(y_prob)
    files = []
    for kind in ("roc", "pr"):
        fig, ax = plt.subplots(figsize=(5, 4))
        for i, c in enumerate(classes):
            yi = y_true == i
            if not yi.any() or (kind == "roc" and yi.all()):
                continue
            if kind == "roc":
                fpr, tpr, _ = M.roc_curve(yi, y_prob[:, i])
                auc = M.roc_auc(yi, y_prob[:, i])
                ax.plot(fpr, tpr, label=f"{c} (AUC {auc:.2f})")
            else:
                p, r = M.pr_curve(yi, y_prob[:, i])
                ap = M.average_precision(yi, y_prob[:, i])
                ax.step(r, p, where="post", label=f"{c} (AP {ap:.2f})")
        if kind == "roc":
            ax.plot([0, 1], [0, 1], "k--", lw=0.8)
            ax.set_xlabel("false positive rate")
            ax.set_ylabel("true positive rate")
            ax.set_title("ROC (one-vs-rest)")
        else:
            ax.set_xlabel("recall")
            ax.set_ylabel("precision")
            ax.set_title("Precision-recall (one-vs-rest)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        p = os.path.join(out_dir, f"{kind}.png")
        fig.savefig(p, dpi=100)
        plt.close(fig)
        files.append(p)
    return files


def _f(v, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def cls_table(m: dict) -> str:
    classes = m["classes"]
    lines = ["| | " + " | ".join(classes) + " |", "| --- |" + " --- |" * len(classes)]
    for key, title in (
        ("sensitivity", "sensitivity (recall)"),
        ("specificity", "specificity"),
        ("precision", "precision"),
        ("f1", "F1"),
        ("roc_auc", "ROC AUC"),
        ("support", "support"),
    ):
        vals = [m["per_class"][c][key] for c in classes]
        lines.append(f"| {title} | " + " | ".join(str(v) if key == "support" else _f(v) for v in vals) + " |")
    lines.append("")
    lines.append(
        f"accuracy {_f(m['accuracy'])}, balanced accuracy {_f(m['balanced_accuracy'])}, "
        f"macro F1 {_f(m['macro']['f1'])}, weighted F1 {_f(m['weighted']['f1'])}, macro ROC AUC "
        f"{_f(m['macro'].get('roc_auc'))}, n = {m['n']}"
    )
    return "\n".join(lines)


def seg_table(parts: dict) -> str:
    lines = [
        "| | accuracy | dice | IoU | precision | recall | mean dice (per image) | images |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, m in parts.items():
        if not m:
            continue
        lines.append(
            f"| {name} | {_f(m['accuracy'])} | {_f(m['dice'])} | {_f(m['iou'])} | {_f(m['precision'])} | "
            f"{_f(m['recall'])} | {_f(m['mean_dice'])} | {m['n_images']} |"
        )
    return "\n".join(lines)


def write_summary(run_dir: str, title: str, task: str, info: dict, parts: dict, extra: str = "") -> str:
    lines = [f"# {title}", ""]
    for k, v in info.items():
        lines.append(f"- {k}: {v}")
    lines.append("")
    if task == "segmentation":
        lines += ["## Segmentation (disc channel, threshold 0.5)", "", seg_table(parts), ""]
    else:
        for name, m in parts.items():
            if m:
                lines += [f"## {name}", "", cls_table(m), ""]
    if extra:
        lines += [extra, ""]
    plots = sorted(p for p in os.listdir(run_dir) if p.endswith(".png"))
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots]
    path = os.path.join(run_dir, "summary.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path
