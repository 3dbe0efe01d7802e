"""``python -m training finetune``: fine-tune the axial classifier and the sagittal grader on a site's studies
(issue 15).

``lumbar finetune`` (packages/cli/src/commands/finetune.ts) runs the node on every labelled study with the models it
starts from and keeps the exact tensors its classifiers were fed (``analyzeStudy`` with ``captureInputs``), so the
crops here are the node's own, cut by its own segmenters: nothing is cropped again in Python. It writes them into
``--work``: ``inputs.json`` (one row per crop: pseudonymous study and patient, level, labels) beside ``axial.u8``
and ``grading.u8`` (the tensors x 255 as uint8, lossless: every value is k / 255). Then this module

- splits the **patients** (``splits.split_patients``, 80:10:10 by default, stratified by whether a patient has a
  herniated level, else a bulging one; or ``splits.kfold_patients`` with ``--folds K``: fold k is test, fold k + 1
  validation);
- fine-tunes **ax-cls-discnet** (5 classes) from the given weights. Labels are per level, and a herniation shows
  on the slices that cut it (docs/DATASET-LAYOUT.md), so a herniated level trains on its slice that the current
  model finds most herniated (multiple-instance learning with the pipeline's ``max-herniation`` rule); a healthy
  or bulging level trains on all its slices. Slices under AXIAL_MIN_AREA_FRACTION of the level's largest disc
  area are left out, as the pipeline leaves them out;
- fine-tunes **sag-grading** on the outputs the labels give (``masked_grading_loss``): herniation (the CSV's
  column, else diagnosis central / left / right), and bulging, narrowing and the Pfirrmann grade where the CSV has
  them; the other outputs get no gradient. Its BatchNorm layers are folded into the convolutions of the ONNX
  file it starts from, so they stay as fixed affine maps (``grading_net_from_onnx``);
- picks each model's epoch on the validation patients (epoch 0, the weights it started from, included: a
  fine-tuning that does not help on them keeps the old weights) and scores the held-out (test) patients before
  and after: per level, the axial probabilities of its slices combined by the pipeline's ``max-herniation`` rule
  (accuracy, balanced accuracy, herniation sensitivity and specificity), and per disc the grader's ROC AUC of
  each labelled task;
- writes ``--out`` as a complete models folder: the two new model folders (cards naming the site data without
  identifiers, the base version, the date, the held-out figures; version ``<base>+site.<YYYYMMDD>``) and a copy
  of every other model of ``--base``, plus ``finetune-report.json``.

With ``--folds`` the held-out figures pool every fold's test patients (each scored by the model that did not
see it) and the exported models learn from every patient but one validation fold (fold 0).
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training import splits as S
from training.metrics import roc_auc

AXIAL_CLASSES = ("healthy", "bulge", "central", "left", "right")
HERNIATED = ("central", "left", "right")
AXIAL_MIN_AREA_FRACTION = 0.6  # packages/core/src/version.ts
GRADED = ("herniation", "bulging", "narrowing")  # the binary outputs a site's labels.csv can give
AX_FOLDER = "ax-cls-discnet"
GRADING_FOLDER = "sag-grading"
REPORT_FILE = "finetune-report.json"
INPUTS_FORMAT = "lumbar-finetune-inputs/1"


class FinetuneError(Exception):
    """Bad or insufficient site data: the command prints the sentence and exits 2."""


# ----------------------------------------------------------------------------------------------
# Site data
# ----------------------------------------------------------------------------------------------


@dataclass
class SiteData:
    studies: list[dict]
    ax_x: np.ndarray  # (N, C, H, W) uint8
    ax_rows: list[dict]
    g_x: np.ndarray
    g_rows: list[dict]
    base_models: dict = field(default_factory=dict)

    @property
    def patients(self) -> list[str]:
        return sorted({s["patient"] for s in self.studies})


def _read_u8(path: str, shape, n: int) -> np.ndarray:
    shape = [int(v) for v in shape] if n else [0, 0, 0]
    a = np.fromfile(path, dtype=np.uint8) if n else np.zeros(0, np.uint8)
    size = int(np.prod(shape))
    if a.size != n * size:
        raise FinetuneError(f"{path}: {a.size} bytes, expected {n} x {shape}")
    return a.reshape(n, *shape)


def load_inputs(work: str) -> SiteData:
    path = os.path.join(work, "inputs.json")
    if not os.path.isfile(path):
        raise FinetuneError(f"{path}: not found (lumbar finetune writes it)")
    with open(path) as f:
        j = json.load(f)
    if j.get("format") != INPUTS_FORMAT:
        raise FinetuneError(f"{path}: format {j.get('format')!r}, not {INPUTS_FORMAT}")
    ax, g = j["axial"], j["grading"]
    return SiteData(
        studies=j["studies"],
        ax_x=_read_u8(os.path.join(work, ax["file"]), ax["shape"], len(ax["rows"])),
        ax_rows=ax["rows"],
        g_x=_read_u8(os.path.join(work, g["file"]), g["shape"], len(g["rows"])),
        g_rows=g["rows"],
        base_models=j.get("baseModels", {}),
    )


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 k -> float32 k / 255, rounded once from float64 as the node rounds its tensors (the same bits)."""
    return (x.astype(np.float64) / 255.0).astype(np.float32)


def patient_strata(studies: list[dict]) -> dict[str, str]:
    """'h' a patient with a herniated level, else 'b' with a bulging one, else '-'."""
    out: dict[str, str] = {}
    for s in studies:
        v = set(s["levels"].values())
        k = "h" if v & set(HERNIATED) else ("b" if "bulge" in v else "-")
        cur = out.get(s["patient"], "-")
        out[s["patient"]] = "h" if "h" in (k, cur) else ("b" if "b" in (k, cur) else "-")
    return out


def make_splits(
    patients: list[str], strata: dict[str, str], seed: int, split: tuple[int, int, int] | None, folds: int | None
) -> tuple[list[dict], dict]:
    """The (train, val, test) splits to run (one, or one per fold) and the split to report."""
    n = len(patients)
    if folds:
        if n < folds:
            raise FinetuneError(
                f"{folds}-fold cross-validation needs at least {folds} patients; the labelled studies have {n}"
            )
        cv = S.kfold_patients(patients, folds, seed, strata)
        return [S.fold_split(cv, k) for k in range(folds)], cv
    if n < 3:
        raise FinetuneError(
            f"a train / validation / test split needs at least 3 patients; the labelled studies have {n}"
        )
    _, val, test = split or (80, 10, 10)
    sp = S.split_patients(patients, seed, strata, val / 100, test / 100)
    sp["method"] = f"holdout-{':'.join(str(v) for v in (split or (80, 10, 10)))}-by-patient"
    S.check_disjoint(sp)
    return [sp], sp


# ----------------------------------------------------------------------------------------------
# Axial classifier
# ----------------------------------------------------------------------------------------------


def level_groups(rows: list[dict], keep: np.ndarray | None = None) -> dict[tuple[str, str], list[int]]:
    """(study, level) -> the indices of its crops that the pipeline counts (area >= 0.6 x the level's largest)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        if keep is None or keep[i]:
            groups.setdefault((r["study"], r["level"]), []).append(i)
    out = {}
    for k, idx in groups.items():
        top = max(rows[i]["area"] for i in idx)
        out[k] = [i for i in idx if rows[i]["area"] >= AXIAL_MIN_AREA_FRACTION * top]
    return out


def level_probabilities(prob: np.ndarray, rows: list[dict], idx: list[int]) -> np.ndarray:
    """packages/pipeline/src/axial.ts axialLevelEvidence 'max-herniation' over the slices ``idx`` of one level
    (already filtered by area): the slice with the highest P(central + left + right) gives the herniation and its
    split; the rest is split between healthy and bulge as their area-weighted means are. Classes in AXIAL_CLASSES
    order."""
    area = np.array([rows[i]["area"] for i in idx], dtype=np.float64)
    p = prob[idx].astype(np.float64)
    total = area.sum()
    mean = (p * area[:, None]).sum(0) / total if total > 0 else p.mean(0)
    hern = p[:, 2:].sum(1)
    top = int(np.argmax(hern))  # the first on a tie, as the pipeline's reduce keeps the earlier slice
    h = min(1.0, float(hern[top]))
    rest = mean[0] + mean[1]
    out = np.empty(5)
    out[0] = (1 - h) * mean[0] / rest if rest > 0 else (1 - h) / 2
    out[1] = (1 - h) * mean[1] / rest if rest > 0 else (1 - h) / 2
    out[2:] = p[top, 2:]
    return out


def level_figures(truth: list[str], found: list[str]) -> dict:
    """Accuracy, balanced accuracy (mean recall over the classes present), herniation sensitivity / specificity."""
    n = len(truth)
    t, f = np.array(truth), np.array(found)
    recalls = [float((f[t == c] == c).mean()) for c in AXIAL_CLASSES if (t == c).any()]
    ht, hf = np.isin(t, HERNIATED), np.isin(f, HERNIATED)
    return {
        "n_levels": n,
        "accuracy": float((t == f).mean()) if n else None,
        "balanced_accuracy": float(np.mean(recalls)) if recalls else None,
        "herniation_sensitivity": float(hf[ht].mean()) if ht.any() else None,
        "herniation_specificity": float((~hf[~ht]).mean()) if (~ht).any() else None,
        "confusion": {
            c: {d: int(((t == c) & (f == d)).sum()) for d in AXIAL_CLASSES} for c in AXIAL_CLASSES if (t == c).any()
        },
    }


def score_levels(prob: np.ndarray, rows: list[dict], keep: np.ndarray) -> tuple[dict, float]:
    """The level figures of the crops ``keep`` and the mean log-probability of the true class (the tie-break)."""
    truth, found, ll = [], [], []
    for (_, _), idx in sorted(level_groups(rows, keep).items()):
        p = level_probabilities(prob, rows, idx)
        t = rows[idx[0]]["diagnosis"]
        truth.append(t)
        found.append(AXIAL_CLASSES[int(np.argmax(p))])
        ll.append(math.log(max(1e-6, p[AXIAL_CLASSES.index(t)])))
    return level_figures(truth, found), float(np.mean(ll)) if ll else 0.0


def axial_model(base_dir: str) -> nn.Module:
    from training.inference import init_state_dict
    from training.models import build_model

    card = read_card(base_dir)
    if tuple(card["output"]["classes"]) != AXIAL_CLASSES:
        raise FinetuneError(f"{base_dir}: classes {card['output']['classes']}, expected {list(AXIAL_CLASSES)}")
    if card.get("architecture") != "discnet":
        raise FinetuneError(f"{base_dir}: architecture {card.get('architecture')!r}: fine-tuning knows discnet")
    _, ch, h, _ = card["input"]["shape"]
    model = build_model("discnet", num_classes=len(AXIAL_CLASSES), in_channels=int(ch), input_size=int(h))
    model.load_state_dict(init_state_dict(base_dir, model))
    return model


def predict_axial(model: nn.Module, x: np.ndarray, batch: int = 64) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(torch.softmax(model(torch.from_numpy(to_float(x[i : i + batch]))), 1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(AXIAL_CLASSES)), np.float32)


def axial_training_set(
    model: nn.Module, x: np.ndarray, rows: list[dict], train: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(crop indices, labels) of one epoch: every counted slice of a healthy or bulging level; of a herniated level,
    the slice the model now finds most herniated (multiple-instance learning under the max-herniation rule)."""
    groups = level_groups(rows, train)
    hern_levels = [idx for idx in groups.values() if rows[idx[0]]["diagnosis"] in HERNIATED]
    pick = {}
    if hern_levels:
        flat = sorted({i for idx in hern_levels for i in idx})
        p = predict_axial(model, x[flat])
        ph = dict(zip(flat, p[:, 2:].sum(1)))
        for idx in hern_levels:
            pick[idx[0]] = max(idx, key=lambda i: ph[i])
    take, labels = [], []
    for idx in groups.values():
        d = rows[idx[0]]["diagnosis"]
        for i in [pick[idx[0]]] if d in HERNIATED else idx:
            take.append(i)
            labels.append(AXIAL_CLASSES.index(d))
    return np.array(take, dtype=int), np.array(labels, dtype=int)


def augment_axial(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's training augmentation (preprocess.Augment.classification) on uint8 model inputs: a
    horizontal flip with probability 0.5 (left and right swap) and brightness x U(0.8, 1.2)."""
    from training import preprocess as P

    x, y = x.copy(), y.copy()
    for k in range(len(x)):
        if rng.random() < 0.5:
            x[k] = P.hflip(x[k])
            y[k] = P.flip_label(int(y[k]), AXIAL_CLASSES, "axial")
        x[k] = P.adjust_brightness(x[k], rng.uniform(0.8, 1.2))
    return x, y


def freeze_batchnorm(model: nn.Module) -> None:
    """BatchNorm layers as fixed affine maps: the few site images of a batch are no estimate of the statistics."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


@dataclass
class Recipe:
    epochs: int = 15
    batch_size: int = 16
    axial_lr: float = 3e-4
    grading_lr: float = 3e-4
    weight_decay: float = 1e-4
    seed: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def finetune_axial(base_dir: str, data: SiteData, part: dict, r: Recipe, log=None) -> tuple[nn.Module, dict]:
    """Fine-tunes from ``base_dir`` on the train patients; keeps the epoch (0 = the start) with the best validation
    level balanced accuracy (ties: the higher mean log-probability of the true class)."""
    torch.manual_seed(r.seed)
    rng = np.random.default_rng(r.seed)
    model = axial_model(base_dir)
    pat = np.array([row["patient"] for row in data.ax_rows])
    train, val = np.isin(pat, part["train"]), np.isin(pat, part["val"])

    def val_score():
        if not val.any():
            return None, (0.0, 0.0)
        prob = np.zeros((len(val), len(AXIAL_CLASSES)), np.float32)
        prob[val] = predict_axial(model, data.ax_x[val])
        fig, ll = score_levels(prob, data.ax_rows, val)
        return fig, ((fig["balanced_accuracy"] or 0.0), ll)

    fig, best = val_score()
    best_state, best_epoch = copy.deepcopy(model.state_dict()), 0
    history = [{"epoch": 0, "val": fig}]
    opt = torch.optim.Adam(model.parameters(), lr=r.axial_lr, weight_decay=r.weight_decay)
    for epoch in range(1, r.epochs + 1):
        idx, y = axial_training_set(model, data.ax_x, data.ax_rows, train)
        if len(idx) == 0:
            break
        counts = np.bincount(y, minlength=len(AXIAL_CLASSES)).astype(float)
        w = torch.tensor(
            np.where(counts > 0, len(y) / (len(AXIAL_CLASSES) * np.maximum(counts, 1)), 0.0), dtype=torch.float32
        )
        order = rng.permutation(len(idx))
        model.train()
        freeze_batchnorm(model)
        total = 0.0
        for i in range(0, len(order), r.batch_size):
            b = order[i : i + r.batch_size]
            xb, yb = augment_axial(data.ax_x[idx[b]], y[b], rng)
            loss = F.cross_entropy(model(torch.from_numpy(to_float(xb))), torch.from_numpy(yb), weight=w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        fig, score = val_score()
        history.append({"epoch": epoch, "train_loss": total / len(idx), "train_crops": int(len(idx)), "val": fig})
        if log:
            log(
                f"  ax-cls-discnet epoch {epoch}: loss {total / len(idx):.4f}, validation level balanced accuracy "
                f"{_f(fig and fig['balanced_accuracy'])}"
            )
        if score > best:
            best, best_state, best_epoch = score, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    model.eval()
    return model, {"best_epoch": best_epoch, "history": history}


# ----------------------------------------------------------------------------------------------
# Sagittal grader
# ----------------------------------------------------------------------------------------------


def grading_targets(rows: list[dict]) -> np.ndarray:
    """(N, 7): grading.BINARY then the Pfirrmann grade; NaN where the site's labels do not say."""
    from training.grading import BINARY

    y = np.full((len(rows), len(BINARY) + 1), np.nan, dtype=np.float32)
    for i, r in enumerate(rows):
        for k, name in enumerate(BINARY):
            if r.get(name) is not None:
                y[i, k] = float(r[name])
        if r.get("pfirrmann") is not None:
            y[i, len(BINARY)] = float(r["pfirrmann"])
    return y


def masked_grading_loss(logits: torch.Tensor, y: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """``grading.loss_fn`` over the labelled entries only: binary cross-entropy of each labelled binary output (mean
    over labelled entries) plus the ordinal loss of the labelled Pfirrmann grades (mean over labelled discs); an output
    no row labels gets no gradient. With every entry labelled it equals ``grading.loss_fn``."""
    from training.grading import BINARY

    nb = len(BINARY)
    yb = y[:, :nb]
    mb = ~torch.isnan(yb)
    lb = F.binary_cross_entropy_with_logits(
        logits[:, :nb], torch.nan_to_num(yb), pos_weight=pos_weight, reduction="none"
    )
    lb = (lb * mb).sum() / mb.sum().clamp_min(1)
    grade = y[:, nb]
    mg = ~torch.isnan(grade)
    target = torch.stack([(torch.nan_to_num(grade) > k).float() for k in range(1, 5)], 1)
    lo = F.binary_cross_entropy_with_logits(logits[:, nb:], target, reduction="none").mean(1)
    lo = (lo * mg).sum() / mg.sum().clamp_min(1)
    return lb + lo


def grading_net_from_onnx(model_dir: str):
    """A ``GradingNet`` that computes what ``model_dir``/model.onnx computes. The exporter folded each BatchNorm into
    the convolution before it; the convolution gets the folded weights and its BatchNorm becomes y + bias (running
    mean 0, variance 1 - eps, scale 1), which stays exact as long as the BatchNorm layers run in eval mode."""
    import onnx
    from onnx import numpy_helper

    from training.grading import GradingNet

    card = read_card(model_dir)
    m = onnx.load(os.path.join(model_dir, card["file"]))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    convs = [
        (inits[n.input[1]], inits[n.input[2]] if len(n.input) > 2 else None)
        for n in m.graph.node
        if n.op_type == "Conv"
    ]
    width = int(inits["net.binary.weight"].shape[1]) // 8
    net = GradingNet(int(card["input"]["shape"][1]), width, 0.3)
    pairs = []
    mods = list(net.features.modules())
    for a, b in zip(mods, mods[1:]):
        if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
            pairs.append((a, b))
    if len(pairs) != len(convs):
        raise FinetuneError(f"{model_dir}: {len(convs)} convolutions in the ONNX file, the grader has {len(pairs)}")
    with torch.no_grad():
        for (conv, bn), (w, b) in zip(pairs, convs):
            if tuple(conv.weight.shape) != w.shape:
                raise FinetuneError(
                    f"{model_dir}: a convolution of shape {w.shape}, expected {tuple(conv.weight.shape)}"
                )
            conv.weight.copy_(torch.from_numpy(w.copy()))
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(b.copy()) if b is not None else torch.zeros_like(bn.bias))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        for name in ("t0", "gaps", "binary.weight", "binary.bias", "score.weight", "score.bias"):
            obj, attr = net, name
            if "." in name:
                sub, attr = name.split(".")
                obj = getattr(net, sub)
            getattr(obj, attr).copy_(torch.from_numpy(inits[f"net.{name}"].copy()).reshape(getattr(obj, attr).shape))
    net.eval()
    return net


def grading_scores(prob: np.ndarray, y: np.ndarray) -> dict:
    """ROC AUC (and n, positives) of each labelled binary task; Pfirrmann exact and within one where labelled."""
    from training.grading import BINARY

    out = {}
    for k, name in enumerate(BINARY):
        m = ~np.isnan(y[:, k])
        if not m.any():
            continue
        yt = y[m, k].astype(int)
        out[name] = {"n": int(m.sum()), "positives": int(yt.sum()), "roc_auc": roc_auc(yt, prob[m, k])}
    nb = len(BINARY)
    m = ~np.isnan(y[:, nb])
    if m.any():
        grade = y[m, nb].astype(int)
        pred = prob[m, nb:].argmax(1) + 1
        out["pfirrmann"] = {
            "n": int(m.sum()),
            "exact": float((pred == grade).mean()),
            "within_one": float((np.abs(pred - grade) <= 1).mean()),
        }
    return out


def grading_selection(prob: np.ndarray, y: np.ndarray) -> float:
    """Mean ROC AUC of the labelled tasks that have both classes (Pfirrmann: its exact accuracy); 0 without any."""
    s = grading_scores(prob, y)
    vals = [v["roc_auc"] for k, v in s.items() if k != "pfirrmann" and v["roc_auc"] is not None]
    if "pfirrmann" in s:
        vals.append(s["pfirrmann"]["exact"])
    return float(np.mean(vals)) if vals else 0.0


def predict_grading(net: nn.Module, x: np.ndarray) -> np.ndarray:
    from training.grading import predict

    return predict(net, to_float(x))


def finetune_grading(base_dir: str, data: SiteData, part: dict, r: Recipe, log=None) -> tuple[nn.Module, dict]:
    from training import grading as G

    torch.manual_seed(r.seed)
    g = torch.Generator().manual_seed(r.seed)
    rng = np.random.default_rng(r.seed)
    net = grading_net_from_onnx(base_dir)
    y = grading_targets(data.g_rows)
    pat = np.array([row["patient"] for row in data.g_rows])
    train, val = np.isin(pat, part["train"]), np.isin(pat, part["val"])
    xt, yt = torch.from_numpy(to_float(data.g_x[train])), torch.from_numpy(y[train])
    h = y[train, 0]
    h = h[~np.isnan(h)]
    pos = float(h.sum())
    pos_w = torch.ones(len(G.BINARY))
    if pos > 0:
        pos_w[0] = float(np.clip((len(h) - pos) / pos, 1.0, 10.0))

    def val_score():
        return grading_selection(predict_grading(net, data.g_x[val]), y[val]) if val.any() else 0.0

    best = val_score()
    best_state, best_epoch = copy.deepcopy(net.state_dict()), 0
    history = [{"epoch": 0, "val_score": best}]
    opt = torch.optim.AdamW(net.parameters(), lr=r.grading_lr, weight_decay=r.weight_decay)
    aug = G.Recipe(seed=r.seed)
    for epoch in range(1, r.epochs + 1):
        if len(xt) < 2:
            break
        net.train()
        freeze_batchnorm(net)
        order = rng.permutation(len(xt))
        total = 0.0
        for i in range(0, len(order), r.batch_size):
            b = order[i : i + r.batch_size]
            if len(b) < 2:
                continue
            loss = masked_grading_loss(net(G.augment(xt[b], aug, g)), yt[b], pos_w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        score = val_score()
        history.append({"epoch": epoch, "train_loss": total / len(xt), "val_score": score})
        if log:
            log(f"  sag-grading epoch {epoch}: loss {total / len(xt):.4f}, validation score {score:.3f}")
        if score > best:
            best, best_state, best_epoch = score, copy.deepcopy(net.state_dict()), epoch
    net.load_state_dict(best_state)
    net.eval()
    thresholds = {}
    pv = predict_grading(net, data.g_x[val])
    for k, name in enumerate(G.BINARY):
        m = ~np.isnan(y[val, k])
        yy = y[val][m, k].astype(int)
        if yy.sum() >= 2 and (1 - yy).sum() >= 2:  # both classes, twice at least: a threshold worth choosing
            thresholds[name] = G.youden_threshold(yy, pv[m, k])
    return net, {"best_epoch": best_epoch, "best_val_score": best, "history": history, "thresholds": thresholds}


# ----------------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------------


def read_card(model_dir: str) -> dict:
    path = os.path.join(model_dir, "model.json")
    if not os.path.isfile(path):
        raise FinetuneError(f"{path}: not found")
    with open(path) as f:
        return json.load(f)


def site_version(base: str, date: str) -> str:
    """``0.4.0`` -> ``0.4.0+site.20261207`` (a site suffix replaces an earlier one)."""
    return re.sub(r"\+site\.[0-9A-Za-z.-]*$", "", base) + f"+site.{date}"


def site_card(base: dict, version: str, site: dict, figures: dict, hyper: dict, onnx_path: str, check: dict) -> dict:
    from training.export import sha256

    card = copy.deepcopy(base)
    card["version"] = version
    card["sha256"] = sha256(onnx_path)
    card["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    card["base_model"] = {"name": base["name"], "version": base["version"], "sha256": base.get("sha256")}
    card["training_data"] = list(base.get("training_data", [])) + [site]
    card["fine_tuning"] = hyper
    card["metrics"] = {**figures, "base_model_metrics": base.get("metrics")}
    card["export_check"] = check
    card["limitations"] = (
        f"Fine-tuned at a site on {site['studies']} studies of {site['patients']} patients (site data, no identifiers "
        "kept) "
        f"from {base['name']} {base['version']}; the held-out figures come from "
        f"{figures.get('held_out', {}).get('patients', '?')} "
        "patients of that site and say nothing about other sites. " + str(base.get("limitations", ""))
    ).strip()
    return card


def export_axial(
    model: nn.Module, base_dir: str, out_dir: str, version: str, site: dict, figures: dict, hyper: dict
) -> dict:
    from training import report as R
    from training.export import compare_onnx, export_onnx

    base = read_card(base_dir)
    shape = (1, *[int(v) for v in base["input"]["shape"][1:]])
    path = export_onnx(
        model.eval(), "classification", shape, os.path.join(out_dir, "model.onnx"), base["input"]["shape"][0] is None
    )
    card = site_card(base, version, site, figures, hyper, path, compare_onnx(model, "classification", path, shape))
    R.write_json(card, os.path.join(out_dir, "model.json"))
    return card


def export_grading(
    net: nn.Module, base_dir: str, out_dir: str, version: str, site: dict, figures: dict, hyper: dict, thresholds: dict
) -> dict:
    from training import report as R
    from training.export import check_onnx, write_onnx
    from training.grading import WithProbabilities

    base = read_card(base_dir)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    shape = (1, *[int(v) for v in base["input"]["shape"][1:]])
    wrapped = WithProbabilities(net).eval()
    write_onnx(wrapped, shape, path)
    check = check_onnx(wrapped, path, (4, *shape[1:]))
    for name in os.listdir(base_dir):  # orientation.onnx and anything else beside the model stays as it was
        src = os.path.join(base_dir, name)
        if name not in ("model.onnx", "model.json", "report") and os.path.isfile(src):
            shutil.copy2(src, os.path.join(out_dir, name))
    card = site_card(base, version, site, figures, hyper, path, check)
    card["output"]["thresholds"] = {**base["output"]["thresholds"], **{k: round(v, 4) for k, v in thresholds.items()}}
    card["fine_tuning"]["thresholds_chosen_on_site_validation"] = sorted(thresholds)
    R.write_json(card, os.path.join(out_dir, "model.json"))
    return card


def copy_other_models(base: str, out: str, replaced: set[str]) -> list[str]:
    """Every entry of the base models folder but the replaced model folders, unchanged."""
    copied = []
    for name in sorted(os.listdir(base)):
        src, dst = os.path.join(base, name), os.path.join(out, name)
        if name in replaced or name.startswith(".") or os.path.exists(dst):
            continue
        if os.path.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
        copied.append(name)
    return copied


# ----------------------------------------------------------------------------------------------
# Command
# ----------------------------------------------------------------------------------------------


def _f(v, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def _mask(rows: list[dict], patients) -> np.ndarray:
    return np.isin(np.array([r["patient"] for r in rows], dtype=object), list(patients)) if rows else np.zeros(0, bool)


def run(
    work: str,
    base: str,
    out: str,
    split: tuple[int, int, int] | None = None,
    folds: int | None = None,
    r: Recipe | None = None,
    log=print,
) -> dict:
    """The whole fine-tuning (module docstring); returns the report written to ``out``/finetune-report.json."""
    from training import report as R
    from training.inference import Runner

    r = r or Recipe()
    t0 = time.time()
    data = load_inputs(work)
    if not data.studies:
        raise FinetuneError(f"{work}: no labelled study")
    patients = data.patients
    parts, split_report = make_splits(patients, patient_strata(data.studies), r.seed, split, folds)
    has_ax = len(data.ax_rows) > 0 and os.path.isdir(os.path.join(base, AX_FOLDER))
    has_g = len(data.g_rows) > 0 and os.path.isfile(os.path.join(base, GRADING_FOLDER, "model.json"))
    if not has_ax and not has_g:
        raise FinetuneError("no axial crop and no graded disc with a label: nothing to fine-tune")
    y_g = grading_targets(data.g_rows) if has_g else None
    n_levels = len(level_groups(data.ax_rows)) if has_ax else 0
    log(
        f"site data: {len(data.studies)} studies of {len(patients)} patients; {len(data.ax_rows)} axial crops of "
        f"{n_levels} "
        f"labelled levels; {len(data.g_rows)} graded discs; split {split_report['method']} (seed {r.seed})"
    )
    # before: the base models as the node runs them (ONNX Runtime); after: each part's fine-tuned model on its test
    # patients
    prob_before = Runner(os.path.join(base, AX_FOLDER))(to_float(data.ax_x)) if has_ax else None
    g_before = Runner(os.path.join(base, GRADING_FOLDER))(to_float(data.g_x)) if has_g else None
    prob_after = np.full_like(prob_before, np.nan) if has_ax else None
    g_after = np.full_like(g_before, np.nan) if has_g else None
    tested: list[str] = []
    runs = []
    final: dict = {}  # model folder -> (the fine-tuned model, its run's info) of the part whose model is exported
    for k, part in enumerate(parts):
        log(
            f"{'fold ' + str(k) + ': ' if folds else ''}{len(part['train'])} training, {len(part['val'])} validation, "
            f"{len(part['test'])} test patients"
        )
        entry: dict = {"part": part.get("method")}
        if has_ax:
            m, info = finetune_axial(os.path.join(base, AX_FOLDER), data, part, r, log)
            test = _mask(data.ax_rows, part["test"])
            prob_after[test] = predict_axial(m, data.ax_x[test])
            final[AX_FOLDER], entry["axial"] = (m, info), {"best_epoch": info["best_epoch"]}
        if has_g:
            n, info = finetune_grading(os.path.join(base, GRADING_FOLDER), data, part, r, log)
            test = _mask(data.g_rows, part["test"])
            g_after[test] = predict_grading(n, data.g_x[test])
            final[GRADING_FOLDER], entry["grading"] = (n, info), {"best_epoch": info["best_epoch"]}
        tested += part["test"]
        runs.append(entry)
    held = {
        "patients": len(tested),
        "studies": sum(1 for s in data.studies if s["patient"] in set(tested)),
        "method": split_report["method"],
    }
    figures: dict = {"held_out": held}
    if has_ax:
        keep = _mask(data.ax_rows, tested)
        figures["axial_levels"] = {
            "before": score_levels(prob_before, data.ax_rows, keep)[0],
            "after": score_levels(prob_after, data.ax_rows, keep)[0],
        }
    if has_g:
        keep = _mask(data.g_rows, tested)
        figures["grading"] = {
            "before": grading_scores(g_before[keep], y_g[keep]),
            "after": grading_scores(g_after[keep], y_g[keep]),
        }
    if folds:  # the exported models: every patient but fold 0 (validation)
        part = {
            "method": f"{split_report['method']}/final",
            "train": sorted(p for f in split_report["folds"][1:] for p in f),
            "val": split_report["folds"][0],
            "test": [],
        }
        log(f"final models: {len(part['train'])} training, {len(part['val'])} validation patients")
        entry = {"part": part["method"]}
        if has_ax:
            final[AX_FOLDER] = finetune_axial(os.path.join(base, AX_FOLDER), data, part, r, log)
            entry["axial"] = {"best_epoch": final[AX_FOLDER][1]["best_epoch"]}
        if has_g:
            final[GRADING_FOLDER] = finetune_grading(os.path.join(base, GRADING_FOLDER), data, part, r, log)
            entry["grading"] = {"best_epoch": final[GRADING_FOLDER][1]["best_epoch"]}
        runs.append(entry)
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d")
    site = {
        "name": "site data",
        "kind": "site",
        "licence": "the site's own studies, used at the site; no identifiers kept (studies and patients are "
        "pseudonymous)",
        "studies": len(data.studies),
        "patients": len(patients),
        "what": f"fine-tuned at a site on {len(data.studies)} studies / {len(patients)} patients (site data, no "
        "identifiers)",
        "date": date,
    }
    hyper = {**r.to_dict(), "split": split_report["method"], "runs": runs, "command": "lumbar finetune"}
    os.makedirs(out, exist_ok=True)
    versions = {}
    for folder, (model, info) in final.items():
        src, dst = os.path.join(base, folder), os.path.join(out, folder)
        base_card = read_card(src)
        if info["best_epoch"] == 0:
            # no epoch beat the weights it started from on the validation patients: the model stays as it was
            shutil.copytree(src, dst)
            versions[folder] = {
                "base": base_card["version"],
                "new": base_card["version"],
                "kept": "fine-tuning did not improve the validation patients' figure",
            }
            log(f"{folder}: no epoch did better than {base_card['version']} on the validation patients; kept unchanged")
            continue
        version = site_version(base_card["version"], date)
        fig = {"data": f"held-out patients of the site ({held['method']})", "held_out": held}
        if folder == AX_FOLDER:
            fig["axial_levels"] = figures["axial_levels"]
            export_axial(model, src, dst, version, {**site, "crops": len(data.ax_rows)}, fig, hyper)
        else:
            fig["grading"] = figures["grading"]
            export_grading(
                model, src, dst, version, {**site, "discs": len(data.g_rows)}, fig, hyper, info["thresholds"]
            )
        versions[folder] = {"base": base_card["version"], "new": version}
        log(f"{folder}: {base_card['version']} -> {version}")
    copied = copy_other_models(base, out, set(versions) | {"work", REPORT_FILE})
    report = {
        "format": "lumbar-finetune-report/1",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "site": {k: v for k, v in site.items() if k in ("studies", "patients", "what")}
        | {"axial_crops": len(data.ax_rows), "graded_discs": len(data.g_rows), "axial_levels": n_levels},
        "split": split_report,
        "recipe": r.to_dict(),
        "models": versions,
        "copied_unchanged": copied,
        "held_out": figures,
        "seconds": round(time.time() - t0, 1),
    }
    R.write_json(report, os.path.join(out, REPORT_FILE))
    print_figures(figures, log)
    return report


def print_figures(figures: dict, log=print) -> None:
    held = figures["held_out"]
    log(
        f"held-out figures ({held['patients']} patients, {held['studies']} studies; before = the models it started "
        "from, after = fine-tuned):"
    )
    if "axial_levels" in figures:
        b, a = figures["axial_levels"]["before"], figures["axial_levels"]["after"]
        log(
            f"  axial, per level ({b['n_levels']} levels, the pipeline's max-herniation rule over each level's slices):"
        )
        for k in ("accuracy", "balanced_accuracy", "herniation_sensitivity", "herniation_specificity"):
            log(f"    {k.replace('_', ' ')}: before {_f(b[k])}, after {_f(a[k])}")
    if "grading" in figures:
        b, a = figures["grading"]["before"], figures["grading"]["after"]
        log("  sagittal grader, per disc:")
        for k in b:
            if k == "pfirrmann":
                log(f"    Pfirrmann exact ({b[k]['n']} discs): before {_f(b[k]['exact'])}, after {_f(a[k]['exact'])}")
            else:
                why = "" if b[k]["roc_auc"] is not None else " (one class only: no AUC)"
                log(
                    f"    {k} ROC AUC ({b[k]['n']} discs, {b[k]['positives']} positive){why}: before "
                    f"{_f(b[k]['roc_auc'])}, after {_f(a[k]['roc_auc'])}"
                )


def parse_split(s: str) -> tuple[int, int, int]:
    parts = s.split(":")
    try:
        v = tuple(int(p) for p in parts)
    except ValueError:
        v = ()
    if len(v) != 3 or sum(v) != 100 or min(v) < 1:
        raise FinetuneError(f"--split {s!r}: train:validation:test percentages, each at least 1, summing to 100")
    return v  # type: ignore[return-value]


def main(args) -> int:
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    r = Recipe(
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        **({"axial_lr": args.lr, "grading_lr": args.lr} if args.lr else {}),
    )
    try:
        split = None if args.folds else parse_split(args.split)
        run(args.work, args.base, args.out, split, args.folds, r, log=lambda m: print(m, flush=True))
    except FinetuneError as e:
        print(f"finetune: {e}", file=sys.stderr)
        return 2
    return 0
