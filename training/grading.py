"""Per-disc sagittal grading learnt from SPIDER's radiological labels (issue 13).

One crop per disc on the mid-sagittal T2 slice (discs from ``grading_discs.spine_discs``, numbered from the
bottom as SPIDER's ``IVD label``), graded by a small multi-task CNN (``GradingNet``):

- six probabilities: herniation, bulging, narrowing, Modic change (any type), endplate defect (upper or
  lower), spondylolisthesis;
- the Pfirrmann grade 1-5 as an ordinal distribution (four ordered thresholds on one score).

The crop (``crop_box``) is a square centred on the disc, shifted a tenth of the disc's width towards the
back, 1.6 x the disc's width on a side: the endplates above and below and the canal behind are inside.
Outside the image it is padded with zeros. It is resized to 64x64 with the bilinear rule of
``preprocess.resize_bilinear_u8``; channel 0 is that crop / 255, channel 1 its CLAHE (2.0, 4x4) / 255, channel 2
the disc's own component (255 inside) cut and resized the same way, / 255: which disc of the crop is graded.
The TypeScript pipeline (packages/pipeline/src/grading.ts) builds the same tensor; test/parity holds it.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training import preprocess as P
from training.grading_discs import Disc, spine_discs, tilt_says_upside_down

CROP = 64
CHANNELS = 3
BINARY = ("herniation", "bulging", "narrowing", "modic", "endplate", "spondylolisthesis")
PFIRRMANN = tuple(f"pfirrmann_{g}" for g in range(1, 6))
OUTPUTS = BINARY + PFIRRMANN
# IVD label (1 = lowest) -> level name, for normal anatomy.
LEVEL_OF_IVD = {1: "L5-S1", 2: "L4-L5", 3: "L3-L4", 4: "L2-L3", 5: "L1-L2", 6: "T12-L1"}
MAX_LEVEL = 6


# ----------------------------------------------------------------------------------------------
# Crop
# ----------------------------------------------------------------------------------------------


def round_half_up(v: float) -> int:
    return int(math.floor(v + 0.5))


def crop_box(d: Disc) -> tuple[int, int, int, int]:
    """Inclusive (X0, Y0, X1, Y1), possibly outside the image: w = x1 - x0 + 1; half = (8w + 5) // 10;
    centre x = round(cx) + (w + 5) // 10 (towards the back: anterior is left), centre y = round(cy)."""
    w = d.x1 - d.x0 + 1
    half = (8 * w + 5) // 10
    cx = round_half_up(d.cx) + (w + 5) // 10
    cy = round_half_up(d.cy)
    return cx - half, cy - half, cx + half, cy + half


def crop_padded(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    rows, cols = image.shape
    out = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(cols - 1, x1), min(rows - 1, y1)
    if sx1 >= sx0 and sy1 >= sy0:
        out[sy0 - y0 : sy1 - y0 + 1, sx0 - x0 : sx1 - x0 + 1] = image[sy0 : sy1 + 1, sx0 : sx1 + 1]
    return out


def grading_input(image: np.ndarray, labels: np.ndarray, d: Disc) -> np.ndarray:
    """(CHANNELS, CROP, CROP) float32: the resized crop, its CLAHE, and the disc's own mask (255 inside,
    resized with the same bilinear rule), all / 255."""
    box = crop_box(d)
    small = P.resize_bilinear_u8(crop_padded(image, box), CROP, CROP)
    own = P.resize_bilinear_u8(crop_padded(np.where(labels == d.label, 255, 0).astype(np.uint8), box), CROP, CROP)
    return np.stack([small, P.clahe(small), own]).astype(np.float32) / 255.0


def discs_on_image(image: np.ndarray, seg) -> tuple[np.ndarray, list[Disc], list[tuple[Disc, str]], list[int]]:
    """Segment with the sagittal U-Net (a ``Runner``) and keep the spine's discs, from the bottom up."""
    return spine_discs(seg.segment(image))


def head_up(image: np.ndarray, seg, p_upside_down: float | None):
    """(image, discs...) head up: mirrored top to bottom when both the orientation check (P > 0.5) and the discs'
    tilt say it is upside down (training/orientation.py); the third item says whether it was mirrored."""
    found = discs_on_image(image, seg)
    if p_upside_down is not None and p_upside_down > 0.5 and tilt_says_upside_down(found[1]):
        image = np.ascontiguousarray(image[::-1])
        return image, discs_on_image(image, seg), True
    return image, found, False


# ----------------------------------------------------------------------------------------------
# SPIDER labels and samples
# ----------------------------------------------------------------------------------------------


def read_gradings(root: str) -> dict[str, dict[int, dict]]:
    """patient -> IVD label -> {herniation, bulging, narrowing, modic, endplate, spondylolisthesis (0/1),
    pfirrmann (1-5)}."""
    out: dict[str, dict[int, dict]] = {}
    path = os.path.join(root, "radiological_gradings.csv")
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                ivd = int(row["IVD label"])
                g = {
                    "herniation": int(float(row["Disc herniation"])),
                    "bulging": int(float(row["Disc bulging"])),
                    "narrowing": int(float(row["Disc narrowing"])),
                    "modic": int(int(float(row["Modic"])) > 0),
                    "endplate": int(int(float(row["UP endplate"])) > 0 or int(float(row["LOW endplate"])) > 0),
                    "spondylolisthesis": int(int(float(row["Spondylolisthesis"])) > 0),
                    "pfirrmann": int(float(row["Pfirrman grade"])),
                }
            except (KeyError, ValueError) as e:
                raise ValueError(f"{path}: bad row {row}: {e}") from e
            if ivd < 1 or not 1 <= g["pfirrmann"] <= 5:
                continue  # IVD label 0 (one row in SPIDER) is not a disc level
            out.setdefault(row["Patient"].strip(), {})[ivd] = g
    return out


def read_num_discs(root: str) -> dict[str, int]:
    path = os.path.join(root, "overview.csv")
    if not os.path.isfile(path):
        return {}
    with open(path, newline="") as f:
        return {r["new_file_name"]: int(r["num_discs"]) for r in csv.DictReader(f) if r.get("num_discs", "").strip()}


@dataclass
class Sample:
    patient: str
    image: str  # file stem
    level: int  # IVD label, 1 = lowest
    x: np.ndarray
    y: np.ndarray  # BINARY 0/1 then pfirrmann (1-5)


@dataclass
class ImageDiscs:
    stem: str
    patient: str
    found: int
    expected: int | None
    rejected: list[str] = field(default_factory=list)
    mirrored: bool = False


def sagittal_images(root: str) -> list[str]:
    d = os.path.join(root, "sagittal_t2")
    if not os.path.isdir(d):
        raise FileNotFoundError(f"{root}: no sagittal_t2/ folder (the layout of ../shared/data/spider)")
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".png"))


def spider_samples(
    root: str, seg, patients: set[str] | None = None, orientation=None
) -> tuple[list[Sample], list[ImageDiscs]]:
    """Every graded disc found on every mid-sagittal slice of ``root`` (levels 1..MAX_LEVEL, by place from the
    bottom). ``orientation``: stem -> P(upside down) (a dict, or a callable on the image), or None for no check."""
    from training.datasets.common import read_grey

    grades = read_gradings(root)
    expected = read_num_discs(root)
    samples: list[Sample] = []
    images: list[ImageDiscs] = []
    for path in sagittal_images(root):
        stem = os.path.basename(path)[:-4]
        p = stem.split("_")[0]
        if p not in grades or (patients is not None and p not in patients):
            continue
        image = read_grey(path)
        prob = orientation.get(stem) if isinstance(orientation, dict) else (orientation(image) if orientation else None)
        image, (labels, discs, rejected, places), mirrored = head_up(image, seg, prob)
        images.append(
            ImageDiscs(
                stem,
                p,
                places[-1] if places else 0,
                expected.get(stem),
                [r for _, r in rejected if r != "small"],
                mirrored,
            )
        )
        for level, d in zip(places, discs):
            if level > MAX_LEVEL:
                break
            g = grades[p].get(level)
            if g is None:
                continue
            y = np.array([g[k] for k in BINARY] + [g["pfirrmann"]], dtype=np.float32)
            samples.append(Sample(p, stem, level, grading_input(image, labels, d), y))
    return samples, images


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class GradingNet(nn.Module):
    """Four conv blocks (2 convs + BN + ReLU each, max-pooled), global average pooling, dropout, and two heads:
    6 binary logits, and one ordinal score with four ordered thresholds (Pfirrmann > 1, > 2, > 3, > 4).
    ``forward`` returns logits (N, 6 + 4); ``probabilities`` the card's outputs (N, 6 + 5)."""

    def __init__(self, in_channels: int = CHANNELS, width: int = 24, dropout: float = 0.3):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(in_channels, w),
            nn.MaxPool2d(2),
            _block(w, 2 * w),
            nn.MaxPool2d(2),
            _block(2 * w, 4 * w),
            nn.MaxPool2d(2),
            _block(4 * w, 8 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.drop = nn.Dropout(dropout)
        self.binary = nn.Linear(8 * w, len(BINARY))
        self.score = nn.Linear(8 * w, 1)
        self.t0 = nn.Parameter(torch.tensor(-1.5))
        self.gaps = nn.Parameter(torch.ones(3))

    def thresholds(self) -> torch.Tensor:
        return torch.cat([self.t0.view(1), self.t0 + torch.cumsum(F.softplus(self.gaps), 0)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.features(x))
        return torch.cat([self.binary(h), self.score(h) - self.thresholds()[None, :]], dim=1)

    @staticmethod
    def to_probabilities(logits: torch.Tensor) -> torch.Tensor:
        b = torch.sigmoid(logits[:, : len(BINARY)])
        gt = torch.sigmoid(logits[:, len(BINARY) :])  # P(grade > k), k = 1..4, non-increasing
        ones = torch.ones_like(gt[:, :1])
        zeros = torch.zeros_like(gt[:, :1])
        upper = torch.cat([ones, gt], 1)
        lower = torch.cat([gt, zeros], 1)
        return torch.cat([b, (upper - lower).clamp_min(0)], 1)


class WithProbabilities(nn.Module):
    def __init__(self, net: GradingNet):
        super().__init__()
        self.net = net

    def forward(self, x):
        return GradingNet.to_probabilities(self.net(x))


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------


@dataclass
class Recipe:
    epochs: int = 16
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 24
    dropout: float = 0.3
    herniation_pos_weight: float = 4.0
    rotate_deg: float = 12.0
    zoom: float = 0.12
    shift: float = 0.06
    seed: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def augment(x: torch.Tensor, r: Recipe, g: torch.Generator) -> torch.Tensor:
    """Random rotation, zoom and shift (one affine for both channels), gamma and contrast on channel 0, noise."""
    n = x.shape[0]

    def u(lo, hi, shape=(n,)):
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    a = torch.deg2rad(u(-r.rotate_deg, r.rotate_deg))
    s = u(1 - r.zoom, 1 + r.zoom)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(a) / s
    theta[:, 0, 1] = -torch.sin(a) / s
    theta[:, 1, 0] = torch.sin(a) / s
    theta[:, 1, 1] = torch.cos(a) / s
    theta[:, 0, 2] = u(-r.shift, r.shift) * 2
    theta[:, 1, 2] = u(-r.shift, r.shift) * 2
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    gamma = torch.exp(u(math.log(0.7), math.log(1.4)))[:, None, None]
    c0 = x[:, 0].clamp(0, 1) ** gamma * u(0.85, 1.15)[:, None, None]
    x = torch.cat([c0[:, None], x[:, 1:]], 1)
    x = x + 0.02 * torch.randn(x.shape, generator=g)
    return x.clamp(0, 1)


def loss_fn(logits: torch.Tensor, y: torch.Tensor, r: Recipe) -> torch.Tensor:
    nb = len(BINARY)
    pos_w = torch.ones(nb)
    pos_w[0] = r.herniation_pos_weight
    lb = F.binary_cross_entropy_with_logits(logits[:, :nb], y[:, :nb], pos_weight=pos_w)
    grade = y[:, nb]
    target = torch.stack([(grade > k).float() for k in range(1, 5)], 1)
    lo = F.binary_cross_entropy_with_logits(logits[:, nb:], target)
    return lb + lo


def predict(net: nn.Module, x: np.ndarray, batch: int = 256) -> np.ndarray:
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(GradingNet.to_probabilities(net(torch.from_numpy(x[i : i + batch]))).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(OUTPUTS)), np.float32)


def selection_score(prob: np.ndarray, y: np.ndarray) -> float:
    """What picks the epoch on validation: the mean ROC AUC of herniation, bulging, narrowing and Pfirrmann >= 4."""
    from training.metrics import roc_auc

    aucs = [roc_auc(y[:, i], prob[:, i]) for i in range(3)]
    aucs.append(roc_auc((y[:, len(BINARY)] >= 4).astype(int), prob[:, len(BINARY) + 3 :].sum(1)))
    vals = [a for a in aucs if a is not None]
    return float(np.mean(vals)) if vals else 0.0


def train_model(xtr, ytr, xva, yva, r: Recipe, log=None) -> tuple[GradingNet, dict]:
    torch.manual_seed(r.seed)
    g = torch.Generator().manual_seed(r.seed)
    rng = np.random.default_rng(r.seed)
    net = GradingNet(CHANNELS, r.width, r.dropout)
    opt = torch.optim.AdamW(net.parameters(), lr=r.lr, weight_decay=r.weight_decay)
    steps = r.epochs * math.ceil(len(xtr) / r.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r.lr, total_steps=max(1, steps), pct_start=0.15)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    best, best_state, history = -1.0, None, []
    t0 = time.time()
    for epoch in range(r.epochs):
        net.train()
        order = rng.permutation(len(xtr))
        total = 0.0
        for i in range(0, len(order), r.batch_size):
            b = order[i : i + r.batch_size]
            if len(b) < 2:
                continue
            loss = loss_fn(net(augment(xt[b], r, g)), yt[b], r)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        score = selection_score(predict(net, xva), yva) if len(xva) else 0.0
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": total / len(xtr),
                "val_score": score,
                "seconds": round(time.time() - t0, 1),
            }
        )
        if log:
            log(f"epoch {epoch + 1}: loss {total / len(xtr):.4f} val {score:.4f}")
        if score > best:
            best, best_state = score, {k: v.clone() for k, v in net.state_dict().items()}
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return net, {
        "history": history,
        "best_val_score": best,
        "best_epoch": int(np.argmax([h["val_score"] for h in history]) + 1),
    }


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability cut that maximises sensitivity + specificity on (y, p); 0.5 without both classes."""
    from training.metrics import roc_curve

    if y.min() == y.max():
        return 0.5
    fpr, tpr, thr = roc_curve(y, p)
    j = tpr - fpr
    k = int(np.argmax(j))
    return float(min(1.0, max(0.0, thr[k])))


def bootstrap_auc(
    y: np.ndarray, p: np.ndarray, groups: np.ndarray, n: int = 1000, seed: int = 0
) -> tuple[float | None, float | None, float | None]:
    """ROC AUC with a 95 % CI from resampling patients (cluster bootstrap)."""
    from training.metrics import roc_auc

    auc = roc_auc(y, p)
    if auc is None:
        return None, None, None
    rng = np.random.default_rng(seed)
    uniq = np.unique(groups)
    idx = {gname: np.nonzero(groups == gname)[0] for gname in uniq}
    vals = []
    for _ in range(n):
        pick = np.concatenate([idx[gname] for gname in rng.choice(uniq, len(uniq))])
        a = roc_auc(y[pick], p[pick])
        if a is not None:
            vals.append(a)
    lo, hi = (float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))) if vals else (None, None)
    return float(auc), lo, hi


def task_metrics(
    y: np.ndarray, prob: np.ndarray, groups: np.ndarray, thresholds: dict[str, float] | None = None, n_boot: int = 1000
) -> dict:
    """Per binary task: n, positives, ROC AUC [95 % CI], balanced accuracy at the threshold; Pfirrmann: exact,
    within one, ROC AUC of >= 4."""
    out: dict = {}
    nb = len(BINARY)
    for i, name in enumerate(BINARY):
        yt, pt = y[:, i].astype(int), prob[:, i]
        auc, lo, hi = bootstrap_auc(yt, pt, groups, n_boot)
        t = (thresholds or {}).get(
            name, 0.5
        )  # one cut, or one per disc (each fold's own, chosen on its validation part)
        pred = (pt >= t).astype(int)
        sens = float((pred[yt == 1] == 1).mean()) if (yt == 1).any() else None
        spec = float((pred[yt == 0] == 0).mean()) if (yt == 0).any() else None
        out[name] = {
            "n": int(len(yt)),
            "positives": int(yt.sum()),
            "roc_auc": auc,
            "roc_auc_ci95": [lo, hi],
            "threshold": round(float(t), 4) if np.ndim(t) == 0 else "per fold (validation)",
            "sensitivity": sens,
            "specificity": spec,
            "balanced_accuracy": None if sens is None or spec is None else (sens + spec) / 2,
        }
    grade = y[:, nb].astype(int)
    dist = prob[:, nb:]
    pred_grade = dist.argmax(1) + 1
    auc, lo, hi = bootstrap_auc((grade >= 4).astype(int), dist[:, 3:].sum(1), groups, n_boot)
    out["pfirrmann"] = {
        "n": int(len(grade)),
        "exact": float((pred_grade == grade).mean()) if len(grade) else None,
        "within_one": float((np.abs(pred_grade - grade) <= 1).mean()) if len(grade) else None,
        "ge4_roc_auc": auc,
        "ge4_roc_auc_ci95": [lo, hi],
        "confusion": [[int(((grade == a) & (pred_grade == b)).sum()) for b in range(1, 6)] for a in range(1, 6)],
    }
    return out


def headline(
    levels: np.ndarray, y: np.ndarray, prob: np.ndarray, groups: np.ndarray, thresholds=None, n_boot: int = 1000
) -> dict:
    """The keys ``evaluate`` prints (issue 13), over the discs given."""
    from training.metrics import roc_auc

    low = levels <= 2
    allm = task_metrics(y, prob, groups, thresholds, n_boot)
    h_low = roc_auc(y[low, 0].astype(int), prob[low, 0]) if low.any() else None
    return {
        "n_patients": int(len(np.unique(groups))),
        "n_discs": int(len(y)),
        "herniation_auc_l4_s1": h_low,
        "herniation_auc": allm["herniation"]["roc_auc"],
        "bulging_auc": allm["bulging"]["roc_auc"],
        "narrowing_auc": allm["narrowing"]["roc_auc"],
        "pfirrmann_accuracy": allm["pfirrmann"]["exact"],
        "pfirrmann_within_one": allm["pfirrmann"]["within_one"],
        "pfirrmann_ge4_auc": allm["pfirrmann"]["ge4_roc_auc"],
    }


def calibration_plot(y: np.ndarray, prob: np.ndarray, path: str, bins: int = 10) -> dict:
    """Reliability diagram for the three headline probabilities; returns the binned figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    figures = {}
    edges = np.linspace(0, 1, bins + 1)
    for i, name in enumerate(BINARY[:3]):
        k = np.clip(np.digitize(prob[:, i], edges[1:-1]), 0, bins - 1)
        xs, ys, ns = [], [], []
        for b in range(bins):
            sel = k == b
            if sel.sum() >= 5:
                xs.append(float(prob[sel, i].mean()))
                ys.append(float(y[sel, i].mean()))
                ns.append(int(sel.sum()))
        ax.plot(xs, ys, "o-", label=name)
        figures[name] = {"mean_predicted": xs, "observed": ys, "n": ns}
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency (SPIDER grades)")
    ax.set_title("Calibration, pooled test folds (real SPIDER)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return figures


# ----------------------------------------------------------------------------------------------
# Arrays
# ----------------------------------------------------------------------------------------------


def arrays(samples: list[Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = (
        np.stack([s.x for s in samples]).astype(np.float32)
        if samples
        else np.zeros((0, CHANNELS, CROP, CROP), np.float32)
    )
    y = np.stack([s.y for s in samples]).astype(np.float32) if samples else np.zeros((0, len(BINARY) + 1), np.float32)
    groups = np.array([s.patient for s in samples])
    levels = np.array([s.level for s in samples])
    return x, y, groups, levels


def patient_strata(groups: np.ndarray, y: np.ndarray) -> dict[str, str]:
    """Stratum per patient (``groups``: each disc's patient, ``y``: its labels): "h" herniated at some disc, else "n"
    narrowed at some disc, else "-"."""
    out: dict[str, str] = {}
    for gname, yy in zip(groups, y):
        v = "h" if yy[0] else ("n" if yy[2] else "-")
        cur = out.get(str(gname), "-")
        out[str(gname)] = "h" if "h" in (v, cur) else ("n" if "n" in (v, cur) else "-")
    return out


def save_npz(path: str, samples: list[Sample]) -> None:
    x, y, groups, levels = arrays(samples)
    np.savez_compressed(
        path,
        x=(x * 255).round().astype(np.uint8),
        y=y,
        groups=groups,
        levels=levels,
        images=np.array([s.image for s in samples]),
    )


def load_npz(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    z = np.load(path)
    return z["x"].astype(np.float32) / 255.0, z["y"], z["groups"], z["levels"], z["images"]


def write_json(obj, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------------------------
# Cross-validation
# ----------------------------------------------------------------------------------------------


def crossval(
    x, y, groups, levels, r: Recipe, folds: int = 10, seed: int = 0, only: list[int] | None = None, log=None
) -> dict:
    """k-fold by patient (fold i test, fold i+1 validation, the rest training; ``splits.kfold_patients``).
    Thresholds are chosen per fold on its validation part (Youden) and applied to its test part. Returns the
    pooled test predictions, per-fold validation scores and thresholds."""
    from training import splits as S

    cv = S.kfold_patients([str(gname) for gname in groups], folds, seed, patient_strata(groups, y))
    prob = np.full((len(y), len(OUTPUTS)), np.nan, dtype=np.float32)
    fold_of = np.full(len(y), -1)
    per_fold = []
    thresholds_test = {name: np.full(len(y), 0.5) for name in BINARY}
    for k in range(folds) if only is None else only:
        split = S.fold_split(cv, k)
        part = {n: np.isin(groups, split[n]) for n in ("train", "val", "test")}
        t = time.time()
        net, info = train_model(x[part["train"]], y[part["train"]], x[part["val"]], y[part["val"]], r)
        pv = predict(net, x[part["val"]])
        thr = {name: youden_threshold(y[part["val"], i].astype(int), pv[:, i]) for i, name in enumerate(BINARY)}
        prob[part["test"]] = predict(net, x[part["test"]])
        fold_of[part["test"]] = k
        for name in BINARY:
            thresholds_test[name][part["test"]] = thr[name]
        per_fold.append(
            {
                "fold": k,
                "val_score": info["best_val_score"],
                "best_epoch": info["best_epoch"],
                "thresholds": thr,
                "seconds": round(time.time() - t, 1),
            }
        )
        if log:
            log(f"fold {k}: val {info['best_val_score']:.4f} (epoch {info['best_epoch']}), {time.time() - t:.0f} s")
    return {"prob": prob, "fold": fold_of, "per_fold": per_fold, "thresholds": thresholds_test}


# ----------------------------------------------------------------------------------------------
# Commands: crossval, ship (train + export), evaluate
# ----------------------------------------------------------------------------------------------

DEFAULT_SEG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "sag-seg-unet")
LEVEL_GROUPS = {
    "all levels": lambda lv: lv >= 1,
    "L4-L5 and L5-S1": lambda lv: lv <= 2,
    **{LEVEL_OF_IVD[k]: (lambda lv, k=k: lv == k) for k in range(1, MAX_LEVEL + 1)},
}


def build_samples(data: str, seg_model: str | None, cache: str | None = None, log=None):
    """(x, y, groups, levels, images, image report) for every graded disc in ``data``; ``cache``: an .npz to reuse."""
    if cache and os.path.isfile(cache):
        x, y, groups, levels, images = load_npz(cache)
        return x, y, groups, levels, images, None
    from training.inference import Runner

    seg = Runner(seg_model or DEFAULT_SEG, "cpu")
    samples, imgs = spider_samples(data, seg, orientation=orientation_cross_fit(data, log))
    mirrored = [i.stem for i in imgs if i.mirrored]
    if log:
        log("mirrored top to bottom: " + (", ".join(mirrored) or "none"))
    if cache:
        save_npz(cache, samples)
        write_json(mirrored, cache + ".mirrored.json")
    x, y, groups, levels = arrays(samples)
    if log:
        log(f"{len(samples)} graded discs on {len(imgs)} mid-sagittal slices")
    return x, y, groups, levels, np.array([s.image for s in samples]), imgs


def _mirrored_stems(cache: str | None):
    """The stems mirrored when ``cache`` was built (saved beside it), or None."""
    side = (cache or "") + ".mirrored.json"
    if cache and os.path.isfile(side):
        with open(side) as f:
            return json.load(f)
    return None


def orientation_inputs(data: str) -> tuple[list[str], np.ndarray]:
    """(stems, the orientation check's inputs) of every mid-sagittal slice of ``data``."""
    from training import orientation as O
    from training.datasets.common import read_grey

    paths = sagittal_images(data)
    return [os.path.basename(p)[:-4] for p in paths], np.stack([O.to_input(read_grey(p)) for p in paths])


def orientation_cross_fit(data: str, log=None) -> dict[str, float]:
    """P(upside down) of every mid-sagittal slice of ``data`` from an orientation check trained on the other
    patients."""
    from training import orientation as O

    stems, x = orientation_inputs(data)
    prob = O.cross_fit(x, np.array([s.split("_")[0] for s in stems]))
    return dict(zip(stems, prob.tolist()))


def _fmt(v, nd=3):
    return "-" if v is None else f"{v:.{nd}f}"


def results_table(levels, y, prob, groups, thr, n_boot: int = 1000) -> tuple[dict, str]:
    """Per level group and task: the figures and a markdown table (``thr``: task -> each disc's threshold)."""
    out = {}
    lines = [
        "| discs | n | herniation AUC [95% CI] (pos) | bal. acc | bulging AUC [CI] (pos) | bal. acc | narrowing AUC "
        "[CI] (pos) | bal. acc | Pfirrmann exact | within one | Pfirrmann >= 4 AUC [CI] |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, sel_fn in LEVEL_GROUPS.items():
        sel = sel_fn(levels)
        if sel.sum() < 10:
            continue
        m = task_metrics(y[sel], prob[sel], groups[sel], {k: v[sel] for k, v in thr.items()}, n_boot)
        out[name] = m

        def cell(t, m=m):
            a = m[t]
            return (
                f"{_fmt(a['roc_auc'])} [{_fmt(a['roc_auc_ci95'][0], 2)}-{_fmt(a['roc_auc_ci95'][1], 2)}] "
                f"({a['positives']})",
                _fmt(a["balanced_accuracy"]),
            )

        h, b, n = cell("herniation"), cell("bulging"), cell("narrowing")
        pf = m["pfirrmann"]
        lines.append(
            f"| {name} | {int(sel.sum())} | {h[0]} | {h[1]} | {b[0]} | {b[1]} | {n[0]} | {n[1]} | {_fmt(pf['exact'])} "
            f"| {_fmt(pf['within_one'])} | "
            f"{_fmt(pf['ge4_roc_auc'])} [{_fmt(pf['ge4_roc_auc_ci95'][0], 2)}-{_fmt(pf['ge4_roc_auc_ci95'][1], 2)}] |"
        )
    return out, "\n".join(lines)


def run_crossval(
    data: str,
    out: str,
    r: Recipe,
    folds: int = 10,
    seg_model: str | None = None,
    cache: str | None = None,
    n_boot: int = 1000,
    log=print,
) -> dict:
    x, y, groups, levels, images, _ = build_samples(data, seg_model, cache, log)
    res = crossval(x, y, groups, levels, r, folds, log=log)
    sel = res["fold"] >= 0
    thr = {k: v[sel] for k, v in res["thresholds"].items()}
    figures, table = results_table(levels[sel], y[sel], res["prob"][sel], groups[sel], thr, n_boot)
    os.makedirs(out, exist_ok=True)
    cal = calibration_plot(y[sel], res["prob"][sel], os.path.join(out, "calibration.png"))
    head = headline(levels[sel], y[sel], res["prob"][sel], groups[sel], n_boot=0)
    summary = {
        "data": os.path.normpath(data),
        "folds": folds,
        "recipe": r.to_dict(),
        "n_discs": int(sel.sum()),
        "n_patients": int(len(np.unique(groups[sel]))),
        "headline": head,
        "per_fold": res["per_fold"],
        "mean_validation_score": float(np.mean([f["val_score"] for f in res["per_fold"]])),
        "pooled_test": figures,
        "calibration": cal,
    }
    write_json(summary, os.path.join(out, "crossval.json"))
    np.savez_compressed(
        os.path.join(out, "predictions.npz"),
        prob=res["prob"],
        fold=res["fold"],
        y=y,
        groups=groups,
        levels=levels,
        images=images,
    )
    md = (
        f"# sag-grading, {folds}-fold cross-validation by patient (real SPIDER mid-sagittal T2)\n\n"
        f"{summary['n_discs']} discs of {summary['n_patients']} patients; every fold's test predictions pooled. "
        "Balanced accuracy at each fold's threshold chosen on its validation fold (Youden). 95 % CIs: patient "
        "bootstrap.\n\n"
        f"{table}\n"
    )
    with open(os.path.join(out, "crossval.md"), "w") as f:
        f.write(md)
    return {**summary, "markdown": md}


def ship(
    data: str,
    out_dir: str,
    r: Recipe,
    version: str,
    seg_model: str | None = None,
    cache: str | None = None,
    crossval_dir: str | None = None,
    val_fraction: float = 0.1,
    log=print,
) -> dict:
    """Train on every patient but a validation tenth (which picks the epoch and the thresholds), export ONNX + card."""
    from training.datasets.spider import CITATION
    from training.export import OPSET, check_onnx, sha256, write_onnx

    x, y, groups, levels, _, imgs = build_samples(data, seg_model, cache, log)
    strata = patient_strata(groups, y)
    rng = np.random.default_rng(r.seed)
    pats = sorted(strata)
    by = {}
    for p in pats:
        by.setdefault(strata[p], []).append(p)
    val = []
    for _stratum, ps in sorted(by.items()):
        ps = list(ps)
        rng.shuffle(ps)
        val += ps[: max(1, round(len(ps) * val_fraction))]
    vmask = np.isin(groups, val)
    t = time.time()
    net, info = train_model(x[~vmask], y[~vmask], x[vmask], y[vmask], r, log=log)
    seconds = time.time() - t
    pv = predict(net, x[vmask])
    thr = {name: youden_threshold(y[vmask, i].astype(int), pv[:, i]) for i, name in enumerate(BINARY)}
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, "model.onnx")
    wrapped = WithProbabilities(net).eval()
    write_onnx(wrapped, (1, CHANNELS, CROP, CROP), onnx_path)
    check = check_onnx(wrapped, onnx_path, (4, CHANNELS, CROP, CROP))
    cv = None
    if crossval_dir and os.path.isfile(os.path.join(crossval_dir, "crossval.json")):
        with open(os.path.join(crossval_dir, "crossval.json")) as f:
            cv = json.load(f)
    card = {
        "card_version": 1,
        "name": os.path.basename(os.path.normpath(out_dir)),
        "version": version,
        "task": "grading",
        "view": "sagittal",
        "architecture": f"GradingNet (4 conv blocks, width {r.width}, 6 sigmoid outputs + ordinal Pfirrmann head)",
        "file": "model.onnx",
        "sha256": sha256(onnx_path),
        "opset": OPSET,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "input": {
            "name": "input",
            "shape": [None, CHANNELS, CROP, CROP],
            "layout": "NCHW",
            "dtype": "float32",
            "normalisation": "uint8 / 255 (range 0..1)",
            "channels": "0: the disc crop resized to 64x64; 1: its CLAHE (2.0, 4x4); 2: the disc's own component (255 "
            "inside, 0 outside) cropped and resized the same way",
        },
        "output": {
            "name": "output",
            "shape": [None, len(OUTPUTS)],
            "activation": "sigmoid (first 6); ordinal distribution (last 5, sums to 1)",
            "classes": list(OUTPUTS),
            "binary": list(BINARY),
            "pfirrmann": list(PFIRRMANN),
            "thresholds": {k: round(v, 4) for k, v in thr.items()},
            "threshold": None,
        },
        "preprocessing": {
            "discs": "training/grading_discs.py spine_discs on the sagittal U-Net's mask (bilinear-probability > "
            "threshold): components with area * 10 >= largest, major axis >= 1.4 x minor and within 65 deg of "
            "horizontal, within 1.0 x the median major axis of the centroid line (refitted after each "
            "rejection), one per height; numbered from the bottom (1 = lowest = SPIDER IVD label 1)",
            "box": "w = x1 - x0 + 1; half = (8w + 5) // 10; cx = floor(centroid x + 0.5) + (w + 5) // 10; cy = "
            "floor(centroid y + 0.5); inclusive [cx - half, cx + half] x [cy - half, cy + half], zero-padded "
            "outside the image",
            "resize": "64x64, bilinear-half-pixel-integer (as the classifiers' resize)",
            "clahe": {"clip_limit": 2.0, "tile_grid": [4, 4], "channel": 1},
            "dicom_to_uint8": "percentile window 0.5-99.5 (as every model)",
        },
        "training_data": [
            {
                "name": "SPIDER",
                "citation": CITATION,
                "licence": "CC BY 4.0",
                "what": "real sagittal T2 (mid-sagittal slice per series) with per-disc radiological grades",
                "patients": int(len(np.unique(groups))),
                "discs": int(len(y)),
            }
        ],
        "hyperparameters": {
            **r.to_dict(),
            "epochs_run": len(info["history"]),
            "best_epoch": info["best_epoch"],
            "training_seconds": round(seconds),
            "trained_on": "cpu",
            "validation_patients": len(val),
        },
        "metrics": {
            "data": "real SPIDER patients held out from training: 10-fold cross-validation by patient, every fold's "
            "test predictions pooled (crossval)",
            **(
                {
                    "crossval": {
                        "headline": cv["headline"],
                        "pooled_test": cv["pooled_test"],
                        "mean_validation_score": cv["mean_validation_score"],
                    }
                }
                if cv
                else {}
            ),
            "validation": headline(levels[vmask], y[vmask], pv, groups[vmask], n_boot=0),
        },
        "export_check": check,
        "limitations": (
            "Learnt from one mid-sagittal slice per series of 170 SPIDER patients (Radboudumc, 1.5 T and 3 T), graded "
            "by SPIDER's radiologists; "
            "herniation is rare (about 6 % of discs), so its figures have wide intervals. No parasagittal slices "
            "(SPIDER's copy here has them for 31 patients only), "
            "so a far-lateral herniation can be missed. Levels are counted from the lowest disc found: transitional "
            "anatomy or a missed L5-S1 shifts them. "
            "Not for primary diagnosis."
        ),
        "intended_use": "research and demonstration; not a medical device; not for primary diagnosis",
    }
    from training import orientation as O

    stems, xo = orientation_inputs(data)
    # the slices the cross-fitted check and the tilt flagged are mirrored back before the final check learns from them
    flagged = set([i.stem for i in imgs if i.mirrored] if imgs is not None else (_mirrored_stems(cache) or []))
    for i, stem in enumerate(stems):
        if stem in flagged:
            xo[i] = xo[i][:, ::-1]
    O.export(O.fit(xo, 30, r.seed), os.path.join(out_dir, O.FILE))
    card["orientation_check"] = {
        "file": O.FILE,
        "what": "P(upside down) of a sagittal PNG slice without geometry (SPIDER-layout data only; DICOM series carry "
        "their orientation)",
        "rule": "mirror top to bottom when P > 0.5 and training/grading_discs.py tilt_says_upside_down",
        "mirrored_in_training": sorted(flagged),
    }
    write_json(card, os.path.join(out_dir, "model.json"))
    write_json(
        {"history": info["history"], "validation_patients": sorted(val)},
        os.path.join(out_dir, "report", "training.json"),
    )
    return card


def evaluate_grading(
    model: str,
    data: str,
    seg_model: str | None = None,
    split: str | None = None,
    part: str = "test",
    n_boot: int = 1000,
) -> dict:
    """Segment every mid-sagittal slice of ``data`` (SPIDER layout), grade each disc, score against the gradings."""
    from training import splits as S
    from training.inference import Runner

    runner = Runner(model, "cpu")
    if runner.task != "grading":
        raise ValueError(f"{model}: task {runner.task!r} is not grading")
    seg = Runner(seg_model or DEFAULT_SEG, "cpu")
    keep = None
    if split:
        keep = {p.split(":")[-1] for p in S.read_split(split).get(part, [])}
    from training.orientation import Checker

    samples, imgs = spider_samples(data, seg, keep, orientation=Checker(model).probability)
    x, y, groups, levels = arrays(samples)
    prob = runner(x, 64) if len(x) else np.zeros((0, len(OUTPUTS)), np.float32)
    thr = runner.card["output"].get("thresholds") or {}
    result = headline(levels, y, prob, groups, n_boot=0) if len(y) else {"n_patients": 0, "n_discs": 0}
    result = {
        "model": os.path.normpath(model),
        "task": "grading",
        "view": "sagittal",
        "data": os.path.normpath(data),
        **result,
    }
    if len(y):
        m = task_metrics(y, prob, groups, thr, n_boot)
        result["per_task"] = {k: {kk: vv for kk, vv in v.items() if kk != "confusion"} for k, v in m.items()}
        result["per_level_herniation_auc"] = {}
        from training.metrics import roc_auc

        for k in range(1, MAX_LEVEL + 1):
            sel = levels == k
            result["per_level_herniation_auc"][LEVEL_OF_IVD[k]] = (
                roc_auc(y[sel, 0].astype(int), prob[sel, 0]) if sel.any() else None
            )
    result["images"] = len(imgs)
    result["mirrored_upside_down"] = [i.stem for i in imgs if i.mirrored]
    result["disc_count_matches_overview"] = sum(1 for i in imgs if i.expected is not None and i.found == i.expected)
    return result
