"""Axial slice gate (issue 14): does this axial slice cut a disc, and is it T2-weighted?

The axial U-Net outlines a disc-sized region on real slices through a vertebral body or an endplate as well
(docs/BENCHMARKS.md, "Axial segmentation on real slices"), and the axial classifier has only learnt T2 slices.
The gate looks at what the U-Net found, in two square windows around it, and answers two questions:

- ``not_disc``: P(the slice cuts a vertebral body or an endplate, not a disc). Above the card's threshold the
  pipeline drops the slice's disc (nothing is segmented, nothing is classified on it).
- ``t2``: P(T2-weighted contrast). Below the card's threshold the slice's evidence is out of distribution (the
  classifiers learnt T2 only), and a level with only such evidence is indeterminate ("image unlike the training
  data").

Input (``gate_input``; the TypeScript twin is ``packages/imaging/src/gateInput.ts``, parity-tested): the axial
classifier's disc box (``preprocess.disc_bbox``: the largest component + 10 %), side s = max(w, h); for each
context c (tenths) a square of half-side ``(c * s + 10) // 20`` around the box centre ``((X0 + X1) // 2,
(Y0 + Y1) // 2)``, zero-padded outside the image, resized to 64x64 by the integer bilinear rule, windowed to its
own 0.5-99.5 percentiles (``preprocess.to_uint8``), / 255. One channel per context.

Data: the project-annotated real Mendeley slices (``annotations/mendeley-axial``: train split only; the test
split is scored once) with the U-Net's own boxes (as the pipeline sees them) and the annotated disc boxes, plus
phantom axial T2 slices (synthetic; all cut a disc) so the phantom keeps passing. Thresholds come from
out-of-fold predictions on the real training slices (k-fold by slice).

    python -m training.slice_gate fit --out models/ax-slice-gate --phantom PHANTOM_DATASET_DIR
    python -m training.slice_gate score --model models/ax-slice-gate --part test [--phantom DIR]
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import hashlib
import json
import os
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from training import preprocess as P
from training.grading import crop_padded  # the sagittal grader's zero-padded crop (TS: imaging cropPadded)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANNOTATIONS = os.path.join(REPO_ROOT, "annotations", "mendeley-axial")
SIZE = 64
CONTEXTS = (11, 29)  # tenths of the disc box's side
OUTPUTS = ("not_disc", "t2")
NAME = "ax-slice-gate"


# ----------------------------------------------------------------------------------------------
# Input (the contract with packages/imaging/src/gateInput.ts)
# ----------------------------------------------------------------------------------------------


def gate_box(box: tuple[int, int, int, int], context: int) -> tuple[int, int, int, int]:
    """Inclusive square (X0, Y0, X1, Y1), possibly outside the image, of ``context`` tenths of the box's side."""
    x0, y0, x1, y1 = box
    s = max(x1 - x0 + 1, y1 - y0 + 1)
    half = (context * s + 10) // 20
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    return cx - half, cy - half, cx + half, cy + half


def gate_channels(image: np.ndarray, box: tuple[int, int, int, int], contexts=CONTEXTS) -> np.ndarray:
    """(len(contexts), 64, 64) uint8: each window resized and windowed."""
    out = []
    for c in contexts:
        small = P.resize_bilinear_u8(crop_padded(image, gate_box(box, c)), SIZE, SIZE)
        out.append(P.to_uint8(small.astype(np.float64)))
    return np.stack(out)


def gate_input(image: np.ndarray, mask: np.ndarray, contexts=CONTEXTS) -> np.ndarray | None:
    """(C, 64, 64) float32 in 0..1 around the mask's axial disc box; None when the mask has no disc."""
    box = P.disc_bbox(mask, "axial")
    if box is None:
        return None
    return gate_channels(image, box, contexts).astype(np.float32) / 255.0


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------


class GateNet(nn.Module):
    """Four conv blocks (3x3 conv, batch norm, ReLU, 2x2 max-pool), global average pool, dropout, 2 logits."""

    def __init__(self, in_channels: int = len(CONTEXTS), width: int = 16):
        super().__init__()
        layers: list[nn.Module] = []
        ci = in_channels
        for co in (width, width * 2, width * 4, width * 4):
            layers += [nn.Conv2d(ci, co, 3, padding=1), nn.BatchNorm2d(co), nn.ReLU(), nn.MaxPool2d(2)]
            ci = co
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(ci, len(OUTPUTS)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Exported(nn.Module):
    """What the ONNX file computes: sigmoid probabilities."""

    def __init__(self, net: GateNet):
        super().__init__()
        self.model = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(x))


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


class Sample:
    """One slice: its image, the boxes to crop around, and its two labels (not_disc, t2)."""

    def __init__(
        self, key: str, image: np.ndarray, boxes: list, not_disc: int, t2: int, source: str, meta: dict | None = None
    ):
        self.key, self.image, self.boxes, self.not_disc, self.t2, self.source = key, image, boxes, not_disc, t2, source
        self.meta = meta or {}


def read_labels(root: str = ANNOTATIONS) -> list[dict]:
    with open(os.path.join(root, "labels.csv"), newline="") as f:
        return list(csv.DictReader(f))


def real_samples(seg, root: str = ANNOTATIONS, split: str = "train") -> list[Sample]:
    """The annotated Mendeley slices of ``split``; boxes: the U-Net's (``seg``, a ``Runner``) and, for discs, the
    annotated one. A non-disc slice on which the U-Net finds nothing needs no gate and is left out."""
    from training.datasets import annotated

    images = annotated.image_dir(root)
    out = []
    for row in read_labels(root):
        if row["split"] != split:
            continue
        image = cv2.imread(os.path.join(images, row["file"]), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise FileNotFoundError(os.path.join(images, row["file"]))
        boxes = []
        pred = P.disc_bbox(seg.segment(image), "axial")
        if pred is not None:
            boxes.append(pred)
        disc = row["cut"] == "disc"
        if disc:
            m = cv2.imread(os.path.join(root, "masks", row["file"]), cv2.IMREAD_GRAYSCALE)
            gt = P.disc_bbox((m == 1).astype(np.uint8), "axial")
            if gt is not None:
                boxes.append(gt)
        if not boxes:
            continue
        out.append(
            Sample(
                row["file"],
                image,
                boxes,
                0 if disc else 1,
                1 if row["contrast"] == "T2" else 0,
                "mendeley-axial",
                {"cut": row["cut"], "contrast": row["contrast"], "predicted_box": pred is not None},
            )
        )
    return out


def phantom_samples(root: str, limit: int | None = None, seed: int = 0) -> list[Sample]:
    """Axial T2 slices of a phantom training layout (``npx lumbar phantom --dataset``) with a disc in the mask."""
    from training.datasets import load_records

    recs = [r for r in load_records(root, task="segmentation", view="axial") if r.view == "axial"]
    rng = np.random.default_rng(seed)
    if limit is not None and len(recs) > limit:
        recs = [recs[i] for i in sorted(rng.choice(len(recs), limit, replace=False))]
    out = []
    for r in recs:
        mask = r.disc_mask()
        box = P.disc_bbox(mask, "axial") if mask is not None else None
        if box is None:
            continue
        out.append(Sample(r.sample_id, r.image(), [box], 0, 1, "phantom", {"patient": r.patient_id}))
    return out


def augmented(sample: Sample, rng: np.random.Generator, contexts=CONTEXTS) -> np.ndarray:
    """Training view of a sample: a random box of it, jittered (centre +-8 % of the side, side x0.85-1.15,
    rotation +-15 deg), mirrored left-right half the time, gamma 0.7-1.4, gain 0.9-1.1, Gaussian noise."""
    x0, y0, x1, y1 = sample.boxes[int(rng.integers(len(sample.boxes)))]
    s = max(x1 - x0 + 1, y1 - y0 + 1)
    cx = (x0 + x1) / 2 + rng.uniform(-0.08, 0.08) * s
    cy = (y0 + y1) / 2 + rng.uniform(-0.08, 0.08) * s
    scale, angle = rng.uniform(0.85, 1.15), rng.uniform(-15, 15)
    flip, gamma, gain, sd = rng.random() < 0.5, rng.uniform(0.7, 1.4), rng.uniform(0.9, 1.1), rng.uniform(0, 0.05)
    chans = []
    for c in contexts:
        side = c / 10 * s * scale
        m = cv2.getRotationMatrix2D((cx, cy), angle, SIZE / side)
        m[0, 2] += SIZE / 2 - cx
        m[1, 2] += SIZE / 2 - cy
        w = cv2.warpAffine(sample.image, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        ch = P.to_uint8(w.astype(np.float64)).astype(np.float32) / 255.0
        if flip:
            ch = ch[:, ::-1]
        ch = np.clip(ch, 0, 1) ** gamma * gain + rng.normal(0, sd, ch.shape)
        chans.append(ch)
    return np.stack(chans).astype(np.float32)


def exact_inputs(samples: list[Sample], contexts=CONTEXTS) -> np.ndarray:
    """The pipeline's input for each sample's first box (the U-Net's when it found one)."""
    return np.stack([gate_channels(s.image, s.boxes[0], contexts).astype(np.float32) / 255.0 for s in samples])


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------


def train(
    samples: list[Sample],
    seed: int = 0,
    epochs: int = 60,
    real_repeat: int = 4,
    phantom_per_epoch: int = 48,
    width: int = 16,
    lr: float = 2e-3,
    contexts=CONTEXTS,
) -> GateNet:
    """AdamW, batch 16; each epoch sees every real sample ``real_repeat`` times (augmented) and
    ``phantom_per_epoch`` phantom samples; the not_disc loss is weighted by the real disc : non-disc ratio."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = GateNet(len(contexts), width)
    opt = torch.optim.AdamW(net.parameters(), lr, weight_decay=1e-3)
    real = [i for i, s in enumerate(samples) if s.source != "phantom"]
    phantom = [i for i, s in enumerate(samples) if s.source == "phantom"]
    pos = sum(samples[i].not_disc for i in real)
    pw = torch.tensor([(len(real) - pos) / max(1, pos)], dtype=torch.float32)
    for _ in range(epochs):
        net.train()
        idx = list(np.repeat(real, real_repeat))
        if phantom:
            idx += list(rng.choice(phantom, min(phantom_per_epoch, len(phantom)), replace=False))
        idx = rng.permutation(idx)
        for b in range(0, len(idx), 16):
            bi = idx[b : b + 16]
            if len(bi) < 2:
                continue
            x = torch.from_numpy(np.stack([augmented(samples[i], rng, contexts) for i in bi]))
            y_cut = torch.tensor([samples[i].not_disc for i in bi], dtype=torch.float32)
            y_t2 = torch.tensor([samples[i].t2 for i in bi], dtype=torch.float32)
            o = net(x)
            loss = F.binary_cross_entropy_with_logits(
                o[:, 0], y_cut, pos_weight=pw
            ) + F.binary_cross_entropy_with_logits(o[:, 1], y_t2)
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net


def predict(net: GateNet, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(np.ascontiguousarray(x)))).numpy()


def out_of_fold(real: list[Sample], phantom: list[Sample], folds: int = 5, repeats: int = 2, **kw) -> np.ndarray:
    """Out-of-fold probabilities (n, 2) for the real samples (stratified by not_disc and contrast), averaged
    over ``repeats`` fold draws; phantom samples train every fold."""
    from sklearn.model_selection import StratifiedKFold

    strata = np.array([s.not_disc * 2 + s.t2 for s in real])
    probs = np.zeros((len(real), len(OUTPUTS)))
    for rep in range(repeats):
        skf = StratifiedKFold(folds, shuffle=True, random_state=rep)
        for k, (tr, te) in enumerate(skf.split(strata, strata)):
            net = train([real[i] for i in tr] + phantom, seed=100 * rep + k, **kw)
            probs[te] += predict(net, exact_inputs([real[i] for i in te], kw.get("contexts", CONTEXTS))) / repeats
    return probs


def pick_threshold(y: np.ndarray, p: np.ndarray, max_disc_loss: float = 0.03) -> float:
    """The lowest not_disc threshold that drops at most ``max_disc_loss`` of the disc slices (y == 0) out of fold:
    a disc slice dropped loses real evidence, while most body slices never reach the gate in a study (the
    pipeline keeps only axial slices within half a disc height + half a slice + 2 mm of a sagittal disc)."""
    disc = np.sort(np.asarray(p)[np.asarray(y) == 0])[::-1]
    k = int(np.floor(max_disc_loss * len(disc)))  # disc slices allowed at or above the threshold
    t = float(disc[k]) + 1e-4 if k < len(disc) else 0.0
    return round(min(1.0, t), 4)


def auc(y, p) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(set(np.asarray(y).tolist())) == 2 else None


# ----------------------------------------------------------------------------------------------
# Export and scoring
# ----------------------------------------------------------------------------------------------


def export(
    net: GateNet, out: str, version: str, thresholds: dict, metrics: dict, training_data: list, contexts=CONTEXTS
) -> str:
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "model.onnx")
    x = torch.zeros(1, len(contexts), SIZE, SIZE)
    torch.onnx.export(
        Exported(net).eval(),
        x,
        path,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "n"}, "output": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    card = {
        "card_version": 1,
        "name": NAME,
        "version": version,
        "task": "slice-gate",
        "view": "axial",
        "architecture": f"GateNet (4 conv blocks, width {net.features[0].out_channels}, 2 sigmoid outputs)",
        "file": "model.onnx",
        "sha256": sha,
        "opset": 17,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input": {
            "name": "input",
            "shape": [None, len(contexts), SIZE, SIZE],
            "layout": "NCHW",
            "dtype": "float32",
            "normalisation": "uint8 / 255 (range 0..1)",
            "channels": ", ".join(
                f"{i}: the square window of {c / 10:g} x the disc box's side" for i, c in enumerate(contexts)
            ),
        },
        "output": {
            "name": "output",
            "shape": [None, len(OUTPUTS)],
            "activation": "sigmoid",
            "classes": list(OUTPUTS),
            "thresholds": thresholds,
            "threshold": None,
            "meaning": "not_disc >= its threshold: the slice cuts a vertebral body or an endplate (its disc is "
            "dropped); "
            "t2 < its threshold: not T2-weighted (its evidence is out of distribution)",
        },
        "preprocessing": {
            "box": "the axial classifier's disc box (largest component of the U-Net mask, + 10 %: "
            "preprocess.disc_bbox / imaging discBbox)",
            "contexts_tenths": list(contexts),
            "window": "square of half-side (c * max(w, h) + 10) // 20 around ((X0 + X1) // 2, (Y0 + Y1) // 2), "
            "zero-padded outside the image",
            "resize": f"{SIZE}x{SIZE}, bilinear-half-pixel-integer (as the classifiers' resize)",
            "intensity": "each channel windowed to its own 0.5-99.5 percentiles (to_uint8), / 255",
        },
        "training_data": training_data,
        "metrics": metrics,
        "limitations": (
            "Learnt from 46 real axial slices (34 through a disc, 12 through a vertebral body or an endplate; project "
            "annotations, one non-clinical reader)"
            + (" and synthetic phantom slices" if any(d.get("synthetic") for d in training_data) else " only")
            + ". T1 vs T2 only: other contrasts (STIR, "
            "gradient echo, contrast-enhanced T1) were never seen. Thresholds from out-of-fold predictions on 46 "
            "slices. "
            "Not for primary diagnosis."
        ),
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    return path


def load_onnx(model_dir: str):
    """(card, run) of an exported gate, through ``training.inference.Runner`` (its ONNX output is already sigmoid)."""
    from training.inference import Runner

    r = Runner(model_dir)
    return r.card, lambda x: r(x) if len(x) else np.zeros((0, len(OUTPUTS)), np.float32)


def score(model_dir: str, samples: list[Sample], contexts) -> dict:
    """Per-sample decisions of a shipped gate on the exact pipeline input (first box: the U-Net's)."""
    card, run = load_onnx(model_dir)
    th = card["output"]["thresholds"]
    return {"thresholds": th, "rows": prob_rows(samples, run(exact_inputs(samples, contexts)), th)}


def prob_rows(samples: list[Sample], probs: np.ndarray, thresholds: dict | None = None) -> list[dict]:
    """One row per sample: what it is (cut, contrast; phantom: disc, T2) and its two probabilities (4 decimals);
    with ``thresholds`` also the decisions (``dropped``, ``t1_flag``) on the unrounded probabilities."""
    rows = []
    for s, (pc, pt) in zip(samples, probs):
        row = {
            "key": s.key,
            "source": s.source,
            "cut": s.meta.get("cut", "disc"),
            "contrast": s.meta.get("contrast", "T2"),
            "p_not_disc": round(float(pc), 4),
            "p_t2": round(float(pt), 4),
        }
        if thresholds is not None:
            row.update(dropped=bool(pc >= thresholds["not_disc"]), t1_flag=bool(pt < thresholds["t2"]))
        rows.append(row)
    return rows


def summarise(rows: list[dict]) -> dict:
    def rate(sel, key):
        sel = list(sel)
        return {"n": len(sel), "k": sum(r[key] for r in sel)}

    disc = [r for r in rows if r["cut"] == "disc"]
    non = [r for r in rows if r["cut"] != "disc"]
    return {
        "disc_slices_kept": {"n": len(disc), "k": sum(not r["dropped"] for r in disc)},
        "non_disc_slices_dropped": rate(non, "dropped"),
        "t1_disc_flagged": rate([r for r in disc if r["contrast"] == "T1"], "t1_flag"),
        "t2_disc_flagged": rate([r for r in disc if r["contrast"] == "T2"], "t1_flag"),
        "clean_t2_disc_kept_unflagged": {
            "n": sum(1 for r in disc if r["contrast"] == "T2"),
            "k": sum(1 for r in disc if r["contrast"] == "T2" and not r["dropped"] and not r["t1_flag"]),
        },
    }


def oof_metrics(rows: list[dict], thresholds: dict, repeats: int) -> dict:
    y_cut = np.array([0 if r["cut"] == "disc" else 1 for r in rows])
    y_t2 = np.array([1 if r["contrast"] == "T2" else 0 for r in rows])
    rows = [
        {**r, "dropped": r["p_not_disc"] >= thresholds["not_disc"], "t1_flag": r["p_t2"] < thresholds["t2"]}
        for r in rows
    ]
    return {
        "slices": len(rows),
        "folds": 5,
        "repeats": repeats,
        "not_disc_auc": auc(y_cut, [r["p_not_disc"] for r in rows]),
        "t2_auc": auc(y_t2, [r["p_t2"] for r in rows]),
        **summarise(rows),
    }


def rethreshold(model_dir: str, max_disc_loss: float) -> int:
    """The not_disc threshold by ``pick_threshold`` on the model's out-of-fold.json; the card's thresholds and
    out-of-fold figures are rewritten (the ONNX file is unchanged)."""
    with open(os.path.join(model_dir, "out-of-fold.json")) as f:
        oof = json.load(f)
    rows = oof["rows"]
    y = np.array([0 if r["cut"] == "disc" else 1 for r in rows])
    th = {**oof["thresholds"], "not_disc": pick_threshold(y, np.array([r["p_not_disc"] for r in rows]), max_disc_loss)}
    card_path = os.path.join(model_dir, "model.json")
    with open(card_path) as f:
        card = json.load(f)
    repeats = card.get("metrics", {}).get("out_of_fold_real_train", {}).get("repeats", 2)
    card["output"]["thresholds"] = th
    card.setdefault("metrics", {})["out_of_fold_real_train"] = {
        **oof_metrics(rows, th, repeats),
        "max_disc_loss": max_disc_loss,
    }
    with open(card_path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    with open(os.path.join(model_dir, "out-of-fold.json"), "w") as f:
        json.dump({"thresholds": th, "rows": rows}, f, indent=1)
    print(json.dumps({"thresholds": th, **card["metrics"]["out_of_fold_real_train"]}))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.slice_gate", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="out-of-fold thresholds on the real train slices, then the final fit and export")
    f.add_argument("--out", required=True)
    f.add_argument("--phantom", help="phantom training layout folder (npx lumbar phantom --dataset)")
    f.add_argument("--phantom-limit", type=int, default=240)
    f.add_argument("--seg-model", default=os.path.join(REPO_ROOT, "models", "ax-seg-unet"))
    f.add_argument("--version", default="0.1.0")
    f.add_argument("--epochs", type=int, default=60)
    f.add_argument("--contexts", default=",".join(str(c) for c in CONTEXTS))
    f.add_argument("--repeats", type=int, default=2)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument(
        "--max-disc-loss",
        type=float,
        default=0.03,
        help="the share of real disc slices the not_disc threshold may drop out of fold",
    )
    t = sub.add_parser(
        "threshold",
        help="re-pick the not_disc threshold of a fitted gate from its out-of-fold.json (rewrites the card)",
    )
    t.add_argument("--model", required=True)
    t.add_argument("--max-disc-loss", type=float, default=0.03)
    s = sub.add_parser("score", help="a shipped gate on the real test split (or train) and on phantom slices")
    s.add_argument("--model", required=True)
    s.add_argument("--part", default="test", choices=["test", "train"])
    s.add_argument("--phantom")
    s.add_argument("--seg-model", default=os.path.join(REPO_ROOT, "models", "ax-seg-unet"))
    s.add_argument("--out")
    a = ap.parse_args(argv)
    if a.cmd == "threshold":
        return rethreshold(a.model, a.max_disc_loss)
    torch.set_num_threads(1)  # small batches: one thread is as fast, and shares the cores
    from training.inference import Runner

    seg = Runner(a.seg_model)
    if a.cmd == "fit":
        contexts = tuple(int(v) for v in a.contexts.split(","))
        t0 = time.time()
        real = real_samples(seg, split="train")
        phantom = phantom_samples(a.phantom, a.phantom_limit, a.seed) if a.phantom else []
        print(
            f"real train slices {len(real)} (non-disc {sum(s.not_disc for s in real)}, T2 {sum(s.t2 for s in real)}); "
            f"phantom {len(phantom)}",
            flush=True,
        )
        oof = out_of_fold(real, phantom, repeats=a.repeats, epochs=a.epochs, contexts=contexts)
        y_cut = np.array([s.not_disc for s in real])
        thresholds = {"not_disc": pick_threshold(y_cut, oof[:, 0], a.max_disc_loss), "t2": 0.5}
        oof_rows = prob_rows(real, oof)
        metrics = {
            "out_of_fold_real_train": {**oof_metrics(oof_rows, thresholds, a.repeats), "max_disc_loss": a.max_disc_loss}
        }
        print(json.dumps(metrics), flush=True)
        net = train(real + phantom, seed=a.seed, epochs=a.epochs, contexts=contexts)
        training_data = [
            {
                "source": "mendeley-axial",
                "split": "train",
                "slices": len(real),
                "licence": "CC BY 4.0",
                "citation": "S. Sudirman et al., Lumbar Spine MRI Dataset, Mendeley Data, doi 10.17632/k57fr854j2.2; "
                "cut and contrast labels and disc masks: lumbar-ai project annotations (one non-clinical "
                "reader), not a radiologist's",
            },
        ] + (
            [
                {
                    "source": "phantom",
                    "synthetic": True,
                    "slices": len(phantom),
                    "folder": os.path.basename(os.path.normpath(a.phantom)),
                }
            ]
            if phantom
            else []
        )
        export(net, a.out, a.version, thresholds, metrics, training_data, contexts)
        with open(os.path.join(a.out, "out-of-fold.json"), "w") as fh:
            json.dump({"thresholds": thresholds, "rows": oof_rows}, fh, indent=1)
        print(f"wrote {a.out} in {time.time() - t0:.0f} s; thresholds {thresholds}")
        return 0
    card, _ = load_onnx(a.model)
    contexts = tuple(card["preprocessing"]["contexts_tenths"])
    samples = real_samples(seg, split=a.part)
    res = score(a.model, samples, contexts)
    out = {"model": f"{card['name']} {card['version']}", "part": a.part, **summarise(res["rows"])}
    if a.phantom:
        ph = score(a.model, phantom_samples(a.phantom), contexts)
        out["phantom"] = {
            "slices": len(ph["rows"]),
            "dropped": sum(r["dropped"] for r in ph["rows"]),
            "t1_flag": sum(r["t1_flag"] for r in ph["rows"]),
        }
    print(json.dumps(out))
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({**out, "rows": res["rows"]}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
