"""Experiment (not a shipped model): can DiscNet tell a herniated disc from a healthy one on real sagittal slices
when it is asked per disc, with SPIDER's grading of every lumbar level, instead of one 3-class answer per slice?
SPIDER `sagittal_t2` slices are segmented with sag-seg-unet; disc components ordered from the bottom are IVD
labels 1..5 (1 = lowest, normally L5-S1); each disc is cropped (`paper`: its box +10 %; `context`: a square box
1.5 x the disc's width, centred on it, which keeps the canal behind the disc), resized to 64x64 and CLAHE'd.
DiscNet (2 classes, balanced class weights, Adam 3e-4, brightness augmentation) is scored by 10-fold
cross-validation by patient; each fold keeps its lowest-validation-loss epoch (validation = the next fold).
Usage: training/.venv/bin/python -m training.experiments.sag_disc_cv [EPOCHS [CROPS]]   (default 15 paper,context;
prints one JSON line per crop, and a line per fold on stderr)"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from training import preprocess as P
from training import splits as S
from training.datasets.common import read_grey
from training.datasets.spider import gradings, patient_of
from training.inference import Runner
from training.metrics import classification_metrics
from training.models import build_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPIDER = os.path.join(ROOT, "..", "shared", "data", "spider")
SEG_MODEL = os.path.join(ROOT, "models", "sag-seg-unet")
FOLDS = 10


def crop(image, comp, mode):
    rows, cols = image.shape
    if mode == "paper":
        x0, y0, x1, y1 = P.bbox_with_margin(comp.x0, comp.y0, comp.x1, comp.y1, rows, cols)
    else:
        half = int(round(0.75 * (comp.x1 - comp.x0 + 1)))
        cx, cy = (comp.x0 + comp.x1) // 2, int(round(comp.cy))
        x0, y0, x1, y1 = max(0, cx - half), max(0, cy - half), min(cols - 1, cx + half), min(rows - 1, cy + half)
    return P.clahe(P.resize_bilinear_u8(np.ascontiguousarray(image[y0 : y1 + 1, x0 : x1 + 1]), 64, 64))


def fit(xtr, ytr, xva, yva, epochs: int):
    net = build_model("discnet", num_classes=2, in_channels=3, input_size=64)
    opt = torch.optim.Adam(net.parameters(), lr=3e-4, betas=(0.9, 0.9))
    w = torch.tensor(len(ytr) / (2.0 * np.maximum(np.bincount(ytr, minlength=2), 1)), dtype=torch.float32)
    best, best_state = None, None
    for _ in range(epochs):
        net.train()
        order = np.random.permutation(len(xtr))
        for i in range(0, len(order), 16):
            b = order[i : i + 16]
            x = torch.from_numpy(xtr[b]) * torch.empty(len(b), 1, 1, 1).uniform_(0.8, 1.2)  # brightness
            loss = F.cross_entropy(net(x.clamp(0, 1)), torch.from_numpy(ytr[b]), weight=w)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            vl = float(F.cross_entropy(net(torch.from_numpy(xva)), torch.from_numpy(yva), weight=w))
        if best is None or vl < best:
            best, best_state = vl, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    net.eval()
    return net


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    epochs = int(args[0]) if len(args) > 0 else 15
    crops = args[1].split(",") if len(args) > 1 else ["paper", "context"]
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    seg = Runner(SEG_MODEL, "cpu")
    grades = gradings(SPIDER)

    samples = {mode: [] for mode in crops}
    for name in sorted(os.listdir(os.path.join(SPIDER, "sagittal_t2"))):
        p = patient_of(name)
        if not name.endswith(".png") or p not in grades:
            continue
        image = read_grey(os.path.join(SPIDER, "sagittal_t2", name))
        comps = sorted(P.disc_components(seg.segment(image)), key=lambda c: -c.cy)[:5]
        for level, comp in enumerate(comps, start=1):
            if level not in grades[p]:
                continue
            for mode in crops:
                samples[mode].append((f"spider:{p}", level, int(grades[p][level]), crop(image, comp, mode)))

    np.random.seed(0)
    for mode, items in samples.items():
        patients = [s[0] for s in items]
        strata = {}
        for pid, _, herniated, _ in items:  # stratum: whether the patient has any herniated disc
            strata[pid] = str(max(int(strata.get(pid, "0")), herniated))
        cv = S.kfold_patients(patients, FOLDS, 0, strata)
        x = np.stack([P.crop_to_input(s[3]) for s in items]).astype(np.float32)
        y = np.array([s[2] for s in items])
        lv = np.array([s[1] for s in items])
        prob = np.zeros((len(items), 2))
        for k in range(FOLDS):
            split = S.fold_split(cv, k)
            part = {n: np.isin(patients, split[n]) for n in ("train", "val", "test")}
            net = fit(x[part["train"]], y[part["train"]], x[part["val"]], y[part["val"]], epochs)
            with torch.no_grad():
                prob[part["test"]] = torch.softmax(net(torch.from_numpy(x[part["test"]])), 1).numpy()
            print(f"{mode}: fold {k} done", file=sys.stderr, flush=True)
        res = {
            "crop": mode,
            "discs": len(y),
            "herniated": int(y.sum()),
            "patients": len(set(patients)),
            "epochs": epochs,
        }
        for name, sel in (("all levels", np.ones(len(y), bool)), ("L4-L5 and L5-S1", lv <= 2)):
            m = classification_metrics(y[sel], prob[sel].argmax(1), ["healthy", "herniated"], prob[sel])
            auc = m["per_class"]["herniated"]["roc_auc"]
            res[name] = {
                "n": int(sel.sum()),
                "herniated": int(y[sel].sum()),
                "balanced_accuracy": round(m["balanced_accuracy"], 3),
                "herniated_recall": round(m["per_class"]["herniated"]["recall"], 3),
                "healthy_recall": round(m["per_class"]["healthy"]["recall"], 3),
                "roc_auc": None if auc is None else round(auc, 3),
            }
        print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
