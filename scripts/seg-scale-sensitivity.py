"""How a segmentation model copes with another field of view: every SPIDER slice of the validation and test patients
of sag-seg-unet's split is zoomed about its centre by Z (Z > 1: a smaller field of view, the anatomy larger, cropped
back to the slice's size; Z < 1: a larger one, padded with black), its mask with it (nearest), and the model's mask
(`Runner.segment`, as the pipeline) is scored against it at the slice's size. Prints one JSON line per Z.
Usage: training/.venv/bin/python scripts/seg-scale-sensitivity.py [MODEL] [Z ...]   (default models/sag-seg-unet,
Z = 0.8 0.9 1.0 1.15 1.3)"""
import json
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from training import splits as S  # noqa: E402
from training.datasets import load_records  # noqa: E402
from training.inference import Runner  # noqa: E402

here = os.path.join(os.path.dirname(__file__), "..")
args = sys.argv[1:]
model = args.pop(0) if args and not args[0].replace(".", "", 1).isdigit() else os.path.join(here, "models", "sag-seg-unet")
zooms = [float(z) for z in args] or [0.8, 0.9, 1.0, 1.15, 1.3]
runner = Runner(model, "cpu")
records = load_records(os.path.join(here, "..", "shared", "data", "spider"), "segmentation", "sagittal")
split = S.read_split(os.path.join(here, "models", "sag-seg-unet", "report", "stage1-split.json"))
recs = S.select(records, split["val"] + split["test"])


def zoom(a: np.ndarray, z: float, interp: int) -> np.ndarray:
    h, w = a.shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0, z)
    return cv2.warpAffine(a, m, (w, h), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


for z in zooms:
    inter = union = 0
    for rec in recs:
        img = zoom(rec.image(), z, cv2.INTER_LINEAR)
        truth = zoom((rec.disc_mask() > 0).astype(np.uint8), z, cv2.INTER_NEAREST) > 0
        m = runner.segment(img) > 0
        inter += 2 * int((m & truth).sum())
        union += int(m.sum() + truth.sum())
    print(json.dumps({"model": os.path.basename(os.path.normpath(model)), "zoom": z, "slices": len(recs), "dice": round(inter / union, 4)}))
