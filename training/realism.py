"""How far is the phantom from real images? (issue 14, part 4)

A small classifier is trained to tell phantom slices from real ones; its held-out ROC AUC measures the gap
(0.5: it cannot tell them apart, 1.0: it always can). One figure per view:

* ``axial``: real axial T2 slices (``mendeley-axial-unlabelled``, the 31 slices that
  ``annotations/mendeley-axial/labels.csv`` marks T2) against phantom axial T2 slices.
  ``--contrast T1`` takes the 33 real T1 slices instead (the phantom has no axial T1 series, so this compares
  real T1 with phantom T2 and only shows that the classifier sees contrast).
* ``sagittal``: SPIDER mid-sagittal T2 slices (``spider/sagittal_t2``, 200 slices of 2D TSE and 3D SPACE
  series) against the phantom's mid-sagittal T2 slice of each study.

Phantom input: a training layout written by ``node packages/cli/dist/main.js phantom --dataset DIR``
(docs/DATASET-LAYOUT.md). Axial: per study and level, the middle one of the slices the layout keeps (3 a study).
Sagittal: per study, the kept slice nearest the middle of the series (1 a study).

Both sides go through the same preprocessing, so that the classifier cannot win on bit depth, size or file
format: 8-bit image, the pipeline's 0.5..99.5 percentile window (``preprocess.to_uint8``, again on the
already 8-bit PNGs), central square crop, area resampling to ``SIZE`` x ``SIZE``, float in [0, 1].

Classifiers (both run, both reported):

* ``features``: L2 logistic regression (C = 0.1, balanced class weights) on 54 standardised hand-made
  features of the 96x96 image: a 16-bin histogram, mean, SD, skewness, dark and saturated fractions,
  4x4 block means (layout, coil fall-off), gradient and Laplacian statistics (edges, noise), local-SD
  statistics (texture) and a 6-band radial power spectrum.
* ``cnn``: a small CNN (3 conv blocks of 8/16/32 channels, global average pooling, ~6k weights) on the
  image reduced to 64x64, 120 Adam steps of 32 images with random shifts, class-balanced loss.

With 5-fold CV both reach AUC 1.0 on the phantom of issue 2; ``diagnostics`` gives the pooled out-of-fold AUC
of the same logistic regression on each feature group alone (histogram, layout, edges, texture, spectrum),
which says where the gap is and moves before the whole classifier does.

Split: ``StratifiedGroupKFold`` (5 folds, shuffled with ``--seed``) by patient: SPIDER by patient number
(a patient's TSE and SPACE slices stay together), phantom by study, Mendeley by file. The Mendeley file
names carry no patient (consecutive numbers are different people, several files may still be one patient at
another level, annotations/mendeley-axial/README.md), so each file is its own group: same-patient pairs
across folds can only make the real side easier to recognise, so the AUC errs high, against the phantom.
The figure is the mean of the 5 held-out per-fold AUCs (``foldMeanAuc``) with a 95 % bootstrap interval
(2000 resamples of patients within each class of each test fold); beside it, the AUC of the pooled out-of-fold
scores (``auc``, ``ci95``: resamples of patients within each class). The pooled AUC is lower whenever the 5 models
score on different scales: each can separate its own test fold perfectly while their pooled scores interleave (the
CNN does this, pooled 0.73-0.76 where every fold scores 1.0), so it understates the gap; the per-fold mean does not.

``stats`` measures the real-data constants the realistic phantom style uses (docs/PHANTOM.md, "Realism").
``montage`` writes the side-by-side figure.

Commands (repository root)::

    node packages/cli/dist/main.js phantom --dataset /tmp/ph --studies 40 --seed realism [--style realistic]
    training/.venv/bin/python -m training.realism --view axial --phantom /tmp/ph --out axial.json
    training/.venv/bin/python -m training.realism --view sagittal --phantom /tmp/ph --out sagittal.json
    training/.venv/bin/python -m training.realism stats [--phantom /tmp/ph]
    training/.venv/bin/python -m training.realism montage --phantom /tmp/a /tmp/b --labels before after --out docs/x.png
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from training import preprocess as P

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("LUMBAR_DATA", REPO.parent / "shared" / "data"))
MENDELEY_IMAGES = DATA / "mendeley-axial-unlabelled"
MENDELEY_LABELS = REPO / "annotations" / "mendeley-axial" / "labels.csv"
MENDELEY_MASKS = REPO / "annotations" / "mendeley-axial" / "masks"
SPIDER = DATA / "spider"

SIZE = 96
CNN_SIZE = 64
CNN_STEPS = 120
FOLDS = 5
BOOTSTRAP = 2000


# ---------------------------------------------------------------------------------------------------------------
# Data


def prepare(img: np.ndarray, size: int = SIZE) -> np.ndarray:
    """8-bit window (0.5..99.5 percentiles), central square crop, area resampling, float32 in [0, 1]."""
    u8 = P.to_uint8(np.asarray(img))
    h, w = u8.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    sq = u8[y0 : y0 + s, x0 : x0 + s]
    interp = cv2.INTER_AREA if s >= size else cv2.INTER_LINEAR
    return cv2.resize(sq, (size, size), interpolation=interp).astype(np.float32) / 255.0


def read_grey(path: str | Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(path)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return img


def real_axial(contrast: str = "T2") -> list[tuple[str, str]]:
    """(path, group) of the real axial slices of one contrast; each file is its own group (no patient ids)."""
    out = []
    with open(MENDELEY_LABELS, newline="") as f:
        for row in csv.DictReader(f):
            if row["contrast"] == contrast:
                out.append((str(MENDELEY_IMAGES / row["file"]), "mendeley/" + row["file"]))
    return out


def real_sagittal() -> list[tuple[str, str]]:
    """(path, group) of the SPIDER mid-sagittal T2 slices, grouped by patient number."""
    files = sorted((SPIDER / "sagittal_t2").glob("*.png"))
    return [(str(p), "spider/" + p.name.split("_")[0]) for p in files]


def phantom_slices(root: str | Path, view: str) -> list[tuple[str, str]]:
    """(path, group) of the phantom slices of a training layout: see the module docstring for the choice."""
    root = Path(root)
    with open(root / "samples.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["view"] == view]
    if not rows:
        raise SystemExit(f"{root}: no {view} samples in samples.csv (write it with `phantom --dataset`)")
    instances: dict[str, int] = {}
    truth = root / "truth.json"
    if truth.exists():
        for s in json.loads(truth.read_text())["studies"]:
            for se in s["series"]:
                if se["kind"] == "t2_sag":
                    instances[s["studyInstanceUid"]] = int(se["instances"])
    by: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        key = (r["patient_id"], r["level"] if view == "axial" else "")
        by.setdefault(key, []).append(r)
    out = []
    for (patient, _), group in sorted(by.items()):
        group.sort(key=lambda r: int(r["slice_index"]))
        if view == "axial":
            pick = group[(len(group) - 1) // 2]
        else:
            n = instances.get(group[0]["study_uid"])
            mid = (n - 1) / 2 if n else (int(group[0]["slice_index"]) + int(group[-1]["slice_index"])) / 2
            pick = min(group, key=lambda r: (abs(int(r["slice_index"]) - mid), int(r["slice_index"])))
        out.append((str(root / pick["image"]), "phantom/" + patient))
    return out


def load_set(items: list[tuple[str, str]], label: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    x = np.stack([prepare(read_grey(p)) for p, _ in items])
    return x, np.full(len(items), label, np.int64), [g for _, g in items]


# ---------------------------------------------------------------------------------------------------------------
# Features and classifiers


def features(x: np.ndarray) -> np.ndarray:
    """54 hand-made features of one prepared image (see the module docstring)."""
    f: list[float] = []
    hist, _ = np.histogram(x, bins=16, range=(0.0, 1.0))
    f += list(hist / x.size)
    m, sd = float(x.mean()), float(x.std())
    f += [m, sd, float(((x - m) ** 3).mean() / (sd**3 + 1e-9)), float((x < 0.05).mean()), float((x > 0.95).mean())]
    n = x.shape[0] // 4
    f += [float(x[i * n : (i + 1) * n, j * n : (j + 1) * n].mean()) for i in range(4) for j in range(4)]
    gx = cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(x, cv2.CV_32F, 0, 1, ksize=3)
    g = np.hypot(gx, gy)
    lap = np.abs(cv2.Laplacian(x, cv2.CV_32F, ksize=1))
    f += [float(g.mean()), float(g.std()), float(np.percentile(g, 50)), float(np.percentile(g, 90))]
    f += [float(lap.mean()), float(np.percentile(lap, 50)), float(np.percentile(lap, 90))]
    mu = cv2.blur(x, (3, 3))
    lsd = np.sqrt(np.maximum(cv2.blur(x * x, (3, 3)) - mu * mu, 0))
    f += [
        float(lsd.mean()),
        float(np.percentile(lsd, 10)),
        float(np.percentile(lsd, 50)),
        float(np.percentile(lsd, 90)),
    ]
    spec = np.abs(np.fft.fftshift(np.fft.fft2(x - m))) ** 2
    c = x.shape[0] // 2
    yy, xx = np.mgrid[: x.shape[0], : x.shape[1]]
    r = np.hypot(yy - c, xx - c)
    edges = [1, 3, 6, 12, 24, 36, 48]
    total = spec[(r >= 1) & (r < 48)].sum() + 1e-12
    f += [float(np.log(spec[(r >= a) & (r < b)].sum() / total + 1e-12)) for a, b in zip(edges[:-1], edges[1:])]
    return np.asarray(f, np.float64)


FEATURE_GROUPS = {
    "histogram": slice(0, 21),
    "layout": slice(21, 37),
    "edges": slice(37, 44),
    "texture": slice(44, 48),
    "spectrum": slice(48, 54),
}


def fit_predict_features(xtr, ytr, xte, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000, random_state=seed)
    )
    clf.fit(xtr, ytr)
    return clf.predict_proba(xte)[:, 1]


def _cnn():
    import torch.nn as nn

    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o, momentum=None), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(1, 8), *block(8, 16), *block(16, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 1)
    )


def _shrink(x: np.ndarray) -> np.ndarray:
    return np.stack([cv2.resize(im, (CNN_SIZE, CNN_SIZE), interpolation=cv2.INTER_AREA) for im in x])


def fit_predict_cnn(xtr, ytr, xte, seed: int, steps: int | None = None) -> np.ndarray:
    import torch

    steps = CNN_STEPS if steps is None else steps
    xtr, xte = _shrink(xtr), _shrink(xte)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = _cnn()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    pos = max(1, int(ytr.sum()))
    neg = max(1, int(len(ytr) - ytr.sum()))
    lossf = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(neg / pos, dtype=torch.float32))
    xt = torch.from_numpy(xtr[:, None].astype(np.float32))
    yt = torch.from_numpy(ytr.astype(np.float32))
    model.train()
    order = rng.permutation(len(xt))
    at = 0
    for _ in range(steps):
        if at + 32 > len(order):
            order, at = rng.permutation(len(xt)), 0
        idx = order[at : at + 32]
        at += 32
        xb = xt[idx]
        dy, dx = (int(v) for v in rng.integers(-4, 5, size=2))
        xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
        opt.zero_grad()
        loss = lossf(model(xb).squeeze(1), yt[idx])
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(xte[:, None].astype(np.float32))).squeeze(1)).numpy()


def auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney statistic (ties count a half), as sklearn's roc_auc_score but faster."""
    from scipy.stats import rankdata

    y = np.asarray(y)
    pos = int(y.sum())
    neg = len(y) - pos
    r = rankdata(s)
    return float((r[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def bootstrap_ci(y, s, groups, seed: int, n: int | None = None) -> tuple[float, float]:
    """95 % interval of the AUC, resampling groups (patients) with replacement within each class."""
    n = BOOTSTRAP if n is None else n
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    idx_by_class = []
    for c in (0, 1):
        gs = sorted(set(groups[y == c]))
        idx_by_class.append([np.flatnonzero((groups == g) & (y == c)) for g in gs])
    vals = []
    for _ in range(n):
        take = []
        for members in idx_by_class:
            pick = rng.integers(0, len(members), size=len(members))
            take.extend(members[i] for i in pick)
        t = np.concatenate(take)
        vals.append(auc(y[t], s[t]))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def fold_mean_ci(y, s, groups, splits, seed: int, n: int | None = None) -> tuple[float, float]:
    """95 % interval of the mean per-fold AUC: groups resampled with replacement within each class of each test fold."""
    n = BOOTSTRAP if n is None else n
    rng = np.random.default_rng(seed + 1)
    groups = np.asarray(groups)
    folds = []
    for _, te in splits:
        per_class = []
        for c in (0, 1):
            idx = te[y[te] == c]
            gs = sorted(set(groups[idx]))
            per_class.append([idx[groups[idx] == g] for g in gs])
        if all(per_class):
            folds.append(per_class)
    vals = []
    for _ in range(n):
        aucs = []
        for per_class in folds:
            take = []
            for members in per_class:
                pick = rng.integers(0, len(members), size=len(members))
                take.extend(members[i] for i in pick)
            t = np.concatenate(take)
            aucs.append(auc(y[t], s[t]))
        vals.append(np.mean(aucs))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def cross_validate(
    x: np.ndarray, y: np.ndarray, groups: list[str], classifiers=("features", "cnn"), seed: int = 0, folds: int = FOLDS
) -> dict:
    """Pooled out-of-fold AUC (with a bootstrap CI) and per-fold AUCs of each classifier."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(x, y, groups))
    feats = np.stack([features(im) for im in x])
    out: dict = {}
    diag = {}
    for group, cols in FEATURE_GROUPS.items():
        scores = np.zeros(len(y))
        for k, (tr, te) in enumerate(splits):
            scores[te] = fit_predict_features(feats[tr][:, cols], y[tr], feats[te][:, cols], seed + k)
        diag[group] = round(auc(y, scores), 4)
    out["diagnostics"] = diag
    for name in classifiers:
        t0 = time.time()
        scores = np.zeros(len(y))
        per_fold = []
        for k, (tr, te) in enumerate(splits):
            if name == "features":
                s = fit_predict_features(feats[tr], y[tr], feats[te], seed + k)
            else:
                s = fit_predict_cnn(x[tr], y[tr], x[te], seed + k)
            scores[te] = s
            per_fold.append(auc(y[te], s) if len(set(y[te])) == 2 else None)
        lo, hi = bootstrap_ci(y, scores, groups, seed)
        valid = [v for v in per_fold if v is not None]
        flo, fhi = fold_mean_ci(y, scores, groups, splits, seed)
        out[name] = {
            "foldMeanAuc": round(float(np.mean(valid)), 4) if valid else None,
            "foldMeanCi95": [round(flo, 4), round(fhi, 4)],
            "auc": round(auc(y, scores), 4),
            "ci95": [round(lo, 4), round(hi, 4)],
            "foldAuc": [None if v is None else round(v, 4) for v in per_fold],
            "seconds": round(time.time() - t0, 1),
        }
    return out


def measure(
    view: str, phantom: str | Path, contrast: str = "T2", classifiers=("features", "cnn"), seed: int = 0
) -> dict:
    real = real_axial(contrast) if view == "axial" else real_sagittal()
    fake = phantom_slices(phantom, view)
    xr, yr, gr = load_set(real, 0)
    xf, yf, gf = load_set(fake, 1)
    x = np.concatenate([xr, xf])
    y = np.concatenate([yr, yf])
    groups = gr + gf
    res = cross_validate(x, y, groups, classifiers, seed)
    return {
        "view": view,
        "real": "mendeley-axial-unlabelled " + contrast if view == "axial" else "spider/sagittal_t2",
        "phantom": str(phantom),
        "nReal": int(len(yr)),
        "nPhantom": int(len(yf)),
        "groups": {"real": len(set(gr)), "phantom": len(set(gf))},
        "size": SIZE,
        "folds": FOLDS,
        "seed": seed,
        "classifiers": res,
    }


# ---------------------------------------------------------------------------------------------------------------
# Real-data statistics (the constants of the realistic phantom style)


def _region_stats(img: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    v = img[mask].astype(np.float64)
    return float(v.mean()), float(v.std())


def spider_tissue_stats() -> dict:
    """On the SPIDER 3D T2 SPACE slices with masks: vertebra and canal (CSF) signal relative to the disc, the
    SD inside each (texture), and the noise of the air (corners), per slice, medians over slices."""
    imgs = sorted((SPIDER / "t2_space" / "images").glob("*.png"))
    rows = []
    for p in imgs:
        img = read_grey(p).astype(np.float64)
        m = read_grey(SPIDER / "t2_space" / "masks" / p.name)
        if not all((m == k).sum() > 50 for k in (1, 2, 3)):
            continue
        # erode the masks a little: the interior, away from partial volume at the borders
        er = {k: cv2.erode((m == k).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) for k in (1, 2, 3)}
        if not all(er[k].sum() > 20 for k in (1, 2, 3)):
            continue
        vm, vs = _region_stats(img, er[1])
        dm, ds = _region_stats(img, er[2])
        cm, cs = _region_stats(img, er[3])
        rows.append([vm / dm, cm / dm, vs / vm, ds / dm, cs / cm])
    a = np.median(np.asarray(rows), axis=0)
    return {
        "slices": len(rows),
        "vertebraOverDisc": round(float(a[0]), 3),
        "csfOverDisc": round(float(a[1]), 3),
        "vertebraCv": round(float(a[2]), 3),
        "discCv": round(float(a[3]), 3),
        "csfCv": round(float(a[4]), 3),
    }


def coil_profile(images: list[np.ndarray], anterior_axis: int) -> list[float]:
    """Median (over images) of the mean signal of each tenth of the image from anterior to posterior, relative to
    the brightest tenth, after the percentile window: the surface coil's fall-off away from the back."""
    prof = []
    for img in images:
        u = P.to_uint8(img).astype(np.float64)
        if anterior_axis == 1:
            u = u.T
        bands = np.array_split(u, 10, axis=0)
        v = np.array([b.mean() for b in bands])
        prof.append(v / max(v.max(), 1e-9))
    return [round(float(v), 3) for v in np.median(np.asarray(prof), axis=0)]


def mendeley_axial_stats() -> dict:
    """On the Mendeley T2 disc slices with project disc masks: the disc's signal and SD relative to the image's
    99th percentile (fat), the darkest anterior tenth (coil fall-off), the noise in the top rows."""
    out = []
    imgs = []
    with open(MENDELEY_LABELS, newline="") as f:
        for row in csv.DictReader(f):
            if row["contrast"] != "T2":
                continue
            img = read_grey(MENDELEY_IMAGES / row["file"]).astype(np.float64)
            imgs.append(img)
            if row["cut"] != "disc":
                continue
            m = read_grey(MENDELEY_MASKS / row["file"]) == 1
            m = cv2.erode(m.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
            if m.sum() < 30:
                continue
            p99 = np.percentile(img, 99)
            dm, ds = _region_stats(img, m)
            cy = np.argwhere(m)[:, 0].mean() / img.shape[0]
            out.append([dm / p99, ds / dm, cy])
    a = np.median(np.asarray(out), axis=0)
    return {
        "discSlices": len(out),
        "discOverP99": round(float(a[0]), 3),
        "discCv": round(float(a[1]), 3),
        "discRowFraction": round(float(a[2]), 3),
        "apProfile": coil_profile(imgs, 0),
    }


def noise_fraction(img: np.ndarray) -> float:
    """Noise SD of an image relative to its 99th percentile, from the median absolute Laplacian of the darkest
    decile of 8x8 blocks (air or coil shadow: no anatomy, only noise)."""
    x = img.astype(np.float64)
    lap = cv2.Laplacian(x, cv2.CV_64F, ksize=1)  # for white noise: SD(lap) = sqrt(20) * sigma
    h, w = x.shape
    blocks = []
    for i in range(0, h - 8, 8):
        for j in range(0, w - 8, 8):
            blocks.append((x[i : i + 8, j : j + 8].mean(), np.std(lap[i + 1 : i + 7, j + 1 : j + 7])))
    blocks.sort()
    dark = [b[1] for b in blocks[: max(1, len(blocks) // 10)]]
    return float(np.median(dark) / np.sqrt(20) / max(np.percentile(x, 99), 1e-9))


def spider_vendor_contrasts() -> dict:
    """Echo time, repetition time and echo train length per vendor and field of SPIDER's sagittal T1 and T2 series
    (overview.csv): 5th, 50th and 95th percentiles, the realistic phantom's VENDOR_CONTRASTS (protocol.ts)."""
    out: dict = {}
    with open(SPIDER / "overview.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for seq in ("t1", "t2"):
        for r in rows:
            if not r["new_file_name"].endswith("_" + seq):
                continue
            key = f"{seq} {r['Manufacturer'].split()[0]} {float(r['MagneticFieldStrength']):g}T"
            out.setdefault(key, []).append(r)
    res = {}
    for key, rs in sorted(out.items()):

        def pct(col, rs=rs):
            v = [float(r[col]) for r in rs if r[col]]
            return [round(float(x)) for x in np.percentile(v, [5, 50, 95])] if v else None

        res[key] = {
            "series": len(rs),
            "TE": pct("EchoTime"),
            "TR": pct("RepetitionTime"),
            "ETL": pct("EchoTrainLength"),
        }
    return res


def stats(phantom: str | None = None) -> dict:
    res: dict = {"spiderT2Space": spider_tissue_stats(), "mendeleyAxialT2": mendeley_axial_stats()}
    res["spiderVendors"] = spider_vendor_contrasts()
    sag = [read_grey(p) for p, _ in real_sagittal()]
    res["spiderSagittal"] = {
        "apProfile": coil_profile(sag, 1),
        "noiseOverP99": round(float(np.median([noise_fraction(i) for i in sag])), 4),
    }
    res["mendeleyAxialT2"]["noiseOverP99"] = round(
        float(np.median([noise_fraction(read_grey(p)) for p, _ in real_axial("T2")])), 4
    )
    if phantom:
        for view in ("axial", "sagittal"):
            ims = [read_grey(p) for p, _ in phantom_slices(phantom, view)]
            res["phantom-" + view] = {
                "apProfile": coil_profile(ims, 0 if view == "axial" else 1),
                "noiseOverP99": round(float(np.median([noise_fraction(i) for i in ims])), 4),
            }
    return res


# ---------------------------------------------------------------------------------------------------------------
# Montage


CREDIT = (
    "Real axial: Sudirman et al., Lumbar Spine MRI Dataset, doi 10.17632/k57fr854j2.2, CC BY 4.0",
    "Real sagittal: van der Graaf et al., SPIDER, doi 10.5281/zenodo.10159290, CC BY 4.0",
)


def montage(phantoms: list[str], labels: list[str], out: str, per_row: int = 4, tile: int = 160) -> None:
    """Rows: for each view, the phantom sets then the real set, ``per_row`` slices each, same preprocessing
    (window, square crop) as the classifier but at ``tile`` pixels; a label on the left of each row."""
    rows = []
    for view in ("axial", "sagittal"):
        sets = [(lab, phantom_slices(ph, view)) for ph, lab in zip(phantoms, labels)]
        real = real_axial("T2") if view == "axial" else real_sagittal()
        sets.append(("real", real))
        for lab, items in sets:
            step = max(1, len(items) // per_row)
            pick = [items[i * step][0] for i in range(per_row)]
            tiles = [(prepare(read_grey(p), tile) * 255).astype(np.uint8) for p in pick]
            label = np.zeros((tile, 28), np.uint8)
            text = f"{view} {lab}"
            img = np.zeros((28, tile), np.uint8)
            cv2.putText(img, text, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, 255, 1, cv2.LINE_AA)
            label[:, :] = cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
            rows.append(np.concatenate([label] + tiles, axis=1))
    width = rows[0].shape[1]
    credit = np.zeros((34, width), np.uint8)
    for k, line in enumerate(CREDIT):
        cv2.putText(credit, line, (4, 13 + 15 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.36, 200, 1, cv2.LINE_AA)
    cv2.imwrite(out, np.concatenate(rows + [credit], axis=0), [cv2.IMWRITE_PNG_COMPRESSION, 9])


# ---------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "stats":
        p = argparse.ArgumentParser(prog="python -m training.realism stats")
        p.add_argument("--phantom", default=None)
        a = p.parse_args(argv[1:])
        print(json.dumps(stats(a.phantom), indent=2))
        return 0
    if argv and argv[0] == "montage":
        p = argparse.ArgumentParser(prog="python -m training.realism montage")
        p.add_argument("--phantom", nargs="+", required=True)
        p.add_argument("--labels", nargs="+", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--per-row", type=int, default=4)
        a = p.parse_args(argv[1:])
        if len(a.labels) != len(a.phantom):
            p.error("one label per --phantom folder")
        montage(a.phantom, a.labels, a.out, a.per_row)
        print(a.out)
        return 0
    p = argparse.ArgumentParser(prog="python -m training.realism", description=__doc__.split("\n")[0])
    p.add_argument("--view", choices=["axial", "sagittal"], required=True)
    p.add_argument("--phantom", required=True, help="a `phantom --dataset` folder")
    p.add_argument("--contrast", choices=["T1", "T2"], default="T2", help="axial: which real slices")
    p.add_argument("--classifier", choices=["features", "cnn", "both"], default="both")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the result here as JSON")
    a = p.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    except ImportError:
        pass
    classifiers = ("features", "cnn") if a.classifier == "both" else (a.classifier,)
    res = measure(a.view, a.phantom, a.contrast, classifiers, a.seed)
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
