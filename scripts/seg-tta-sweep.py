"""Inference-time variants of a sagittal segmentation model on SPIDER's validation and test patients, each image
at its own resolution (docs/BENCHMARKS.md, sag-seg-unet): the threshold, a horizontal-flip average, averages over
several letterbox sizes, and removing small connected components. No retraining; choose on validation only.
Usage: training/.venv/bin/python scripts/seg-tta-sweep.py [MODEL]   (default models/sag-seg-unet; a card with
  output.upsample bilinear-probability; split: models/sag-seg-unet/report/stage1-split.json)
Prints one JSON line per variant and threshold: pooled Dice on val and test, test per patient, val precision/recall."""
import json
import os
import sys
from collections import Counter

import numpy as np
import torch
from scipy import ndimage

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, here)
from training import preprocess as P  # noqa: E402
from training import splits as S  # noqa: E402
from training.datasets import load_records  # noqa: E402
from training.inference import init_state_dict  # noqa: E402
from training.metrics import seg_counts, seg_from_counts  # noqa: E402
from training.models import build_model  # noqa: E402

model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "models", "sag-seg-unet")
with open(os.path.join(model_dir, "model.json")) as f:
    card = json.load(f)
base = int(card["input"]["shape"][-1])
if card["output"].get("upsample") != "bilinear-probability":
    sys.exit(f"{model_dir}: this sweep needs a card with output.upsample bilinear-probability")
torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
net = build_model("unet", num_classes=1, in_channels=1)  # fully convolutional: any size divisible by 32
net.load_state_dict(init_state_dict(model_dir, net))
net.eval()
SIZES = sorted({base - 64, base - 32, base, base + 32, base + 64})


def prob(image: np.ndarray, size: int, flip: bool = False) -> np.ndarray:
    x, g = P.seg_input(image, size)
    if flip:
        x = np.ascontiguousarray(x[..., ::-1])
    with torch.no_grad():
        p = torch.sigmoid(net(torch.from_numpy(x[None]))).numpy()[0, 0]
    return P.unletterbox_prob(np.ascontiguousarray(p[..., ::-1] if flip else p), g)


VARIANTS = {
    f"plain {base}": lambda q: q[base],
    "flip average": lambda q: (q[base] + q["flip"]) / 2,
    f"sizes {base - 32}-{base + 32}": lambda q: (q[base - 32] + q[base] + q[base + 32]) / 3,
    f"sizes {base - 64}-{base + 64}": lambda q: sum(q[s] for s in SIZES) / len(SIZES),
    f"sizes {base - 32}-{base + 32} + flip": lambda q: (q[base - 32] + q[base] + q[base + 32] + q["flip"]) / 4,
}
for s in SIZES:
    if s != base:
        VARIANTS[f"plain {s}"] = lambda q, s=s: q[s]


def drop_small(mask: np.ndarray, min_px: int) -> np.ndarray:
    lab, n = ndimage.label(mask)
    if n == 0:
        return mask
    keep = np.zeros(n + 1, bool)
    keep[1:] = np.asarray(ndimage.sum(mask, lab, range(1, n + 1))) >= min_px
    return keep[lab]


records = load_records(os.path.join(here, "..", "shared", "data", "spider"), "segmentation", "sagittal")
split = S.read_split(os.path.join(here, "models", "sag-seg-unet", "report", "stage1-split.json"))
parts = {}
for part in ("val", "test"):
    parts[part] = []
    for rec in S.select(records, split[part]):
        img = rec.image()
        q = {s: prob(img, s) for s in SIZES}
        q["flip"] = prob(img, base, flip=True)
        parts[part].append((rec.patient_id, rec.disc_mask() > 0, q))


def score(items, to_mask):
    """Pooled Dice, precision and recall over the slices, and Dice per patient (training/metrics.py counts)."""
    total, per = Counter(), {}
    for pid, truth, q in items:
        c = seg_counts(to_mask(q), truth)
        total.update(c)
        per.setdefault(pid, Counter()).update(c)
    m = seg_from_counts(total)
    return {"dice": round(m["dice"], 4), "precision": round(m["precision"], 3), "recall": round(m["recall"], 3),
            "per_patient": {k: round(seg_from_counts(v)["dice"], 3) for k, v in sorted(per.items())}}


def report(name, to_mask, **extra):
    v, t = score(parts["val"], to_mask), score(parts["test"], to_mask)
    print(json.dumps({"variant": name, **extra, "val_dice": v["dice"], "val_precision": v["precision"], "val_recall": v["recall"],
                      "test_dice": t["dice"], "test_per_patient": t["per_patient"]}), flush=True)


for name, fn in VARIANTS.items():
    for th in (0.3, 0.4, 0.5, 0.6):
        report(name, lambda q, fn=fn, th=th: fn(q) > th, threshold=th)
for min_px in (5, 10, 20, 40):
    report(f"plain {base}, components under {min_px} px removed", lambda q, m=min_px: drop_small(q[base] > 0.5, m), threshold=0.5)
