"""Inference-time variants of a sagittal segmentation model on SPIDER's validation and test patients, each image
at its own resolution (docs/BENCHMARKS.md, sag-seg-unet): the threshold, a horizontal-flip average, averages over
several letterbox sizes, and removing small connected components. No retraining; choose on validation only.
Usage: training/.venv/bin/python -m training.experiments.seg_tta_sweep [MODEL]   (default models/sag-seg-unet; a card
  with output.upsample bilinear-probability; split: models/sag-seg-unet/report/stage1-split.json)
Prints one JSON line per variant and threshold: pooled Dice on val and test, test per patient, val precision/recall."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter

import numpy as np
import torch
from scipy import ndimage

from training import preprocess as P
from training import splits as S
from training.datasets import load_records
from training.inference import init_state_dict
from training.metrics import seg_counts, seg_from_counts
from training.models import build_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPIDER = os.path.join(ROOT, "..", "shared", "data", "spider")
SPLIT = os.path.join(ROOT, "models", "sag-seg-unet", "report", "stage1-split.json")


def prob(net, image: np.ndarray, size: int, flip: bool = False) -> np.ndarray:
    x, g = P.seg_input(image, size)
    if flip:
        x = np.ascontiguousarray(x[..., ::-1])
    with torch.no_grad():
        p = torch.sigmoid(net(torch.from_numpy(x[None]))).numpy()[0, 0]
    return P.unletterbox_prob(np.ascontiguousarray(p[..., ::-1] if flip else p), g)


def variants(base: int, sizes: list[int]) -> dict:
    out = {
        f"plain {base}": lambda q: q[base],
        "flip average": lambda q: (q[base] + q["flip"]) / 2,
        f"sizes {base - 32}-{base + 32}": lambda q: (q[base - 32] + q[base] + q[base + 32]) / 3,
        f"sizes {base - 64}-{base + 64}": lambda q: sum(q[s] for s in sizes) / len(sizes),
        f"sizes {base - 32}-{base + 32} + flip": lambda q: (q[base - 32] + q[base] + q[base + 32] + q["flip"]) / 4,
    }
    for s in sizes:
        if s != base:
            out[f"plain {s}"] = lambda q, s=s: q[s]
    return out


def drop_small(mask: np.ndarray, min_px: int) -> np.ndarray:
    lab, n = ndimage.label(mask)
    if n == 0:
        return mask
    keep = np.zeros(n + 1, bool)
    keep[1:] = np.asarray(ndimage.sum(mask, lab, range(1, n + 1))) >= min_px
    return keep[lab]


def score(items, to_mask):
    """Pooled Dice, precision and recall over the slices, and Dice per patient (training/metrics.py counts)."""
    total, per = Counter(), {}
    for pid, truth, q in items:
        c = seg_counts(to_mask(q), truth)
        total.update(c)
        per.setdefault(pid, Counter()).update(c)
    m = seg_from_counts(total)
    return {
        "dice": round(m["dice"], 4),
        "precision": round(m["precision"], 3),
        "recall": round(m["recall"], 3),
        "per_patient": {k: round(seg_from_counts(v)["dice"], 3) for k, v in sorted(per.items())},
    }


def report(parts, name, to_mask, **extra):
    v, t = score(parts["val"], to_mask), score(parts["test"], to_mask)
    print(
        json.dumps(
            {
                "variant": name,
                **extra,
                "val_dice": v["dice"],
                "val_precision": v["precision"],
                "val_recall": v["recall"],
                "test_dice": t["dice"],
                "test_per_patient": t["per_patient"],
            }
        ),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    model_dir = args[0] if args else os.path.join(ROOT, "models", "sag-seg-unet")
    with open(os.path.join(model_dir, "model.json")) as f:
        card = json.load(f)
    base = int(card["input"]["shape"][-1])
    if card["output"].get("upsample") != "bilinear-probability":
        sys.exit(f"{model_dir}: this sweep needs a card with output.upsample bilinear-probability")
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    net = build_model("unet", num_classes=1, in_channels=1)  # fully convolutional: any size divisible by 32
    net.load_state_dict(init_state_dict(model_dir, net))
    net.eval()
    sizes = sorted({base - 64, base - 32, base, base + 32, base + 64})

    records = load_records(SPIDER, "segmentation", "sagittal")
    split = S.read_split(SPLIT)
    parts = {}
    for part in ("val", "test"):
        parts[part] = []
        for rec in S.select(records, split[part]):
            img = rec.image()
            q = {s: prob(net, img, s) for s in sizes}
            q["flip"] = prob(net, img, base, flip=True)
            parts[part].append((rec.patient_id, rec.disc_mask() > 0, q))

    for name, fn in variants(base, sizes).items():
        for th in (0.3, 0.4, 0.5, 0.6):
            report(parts, name, lambda q, fn=fn, th=th: fn(q) > th, threshold=th)
    for min_px in (5, 10, 20, 40):
        report(
            parts,
            f"plain {base}, components under {min_px} px removed",
            lambda q, m=min_px: drop_small(q[base] > 0.5, m),
            threshold=0.5,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
