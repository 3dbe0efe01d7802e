"""How a segmentation model copes with another field of view: every SPIDER slice of the validation and test patients
of sag-seg-unet's split is zoomed about its centre by Z (Z > 1: a smaller field of view, the anatomy larger, cropped
back to the slice's size; Z < 1: a larger one, padded with black), its mask with it (nearest), and the model's mask
(`Runner.segment`, as the pipeline) is scored against it at the slice's size. Prints one JSON line per Z.
Usage: training/.venv/bin/python -m training.experiments.seg_scale_sensitivity [MODEL] [Z ...]
  (default models/sag-seg-unet, Z = 0.8 0.9 1.0 1.15 1.3)"""

from __future__ import annotations

import json
import os
import sys

import cv2
import numpy as np

from training import splits as S
from training.datasets import load_records
from training.inference import Runner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPIDER = os.path.join(ROOT, "..", "shared", "data", "spider")
SPLIT = os.path.join(ROOT, "models", "sag-seg-unet", "report", "stage1-split.json")


def zoom(a: np.ndarray, z: float, interp: int) -> np.ndarray:
    h, w = a.shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0, z)
    return cv2.warpAffine(a, m, (w, h), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    model = (
        args.pop(0)
        if args and not args[0].replace(".", "", 1).isdigit()
        else os.path.join(ROOT, "models", "sag-seg-unet")
    )
    zooms = [float(z) for z in args] or [0.8, 0.9, 1.0, 1.15, 1.3]
    runner = Runner(model, "cpu")
    records = load_records(SPIDER, "segmentation", "sagittal")
    split = S.read_split(SPLIT)
    recs = S.select(records, split["val"] + split["test"])
    for z in zooms:
        inter = union = 0
        for rec in recs:
            img = zoom(rec.image(), z, cv2.INTER_LINEAR)
            truth = zoom((rec.disc_mask() > 0).astype(np.uint8), z, cv2.INTER_NEAREST) > 0
            m = runner.segment(img) > 0
            inter += 2 * int((m & truth).sum())
            union += int(m.sum() + truth.sum())
        print(
            json.dumps(
                {
                    "model": os.path.basename(os.path.normpath(model)),
                    "zoom": z,
                    "slices": len(recs),
                    "dice": round(inter / union, 4),
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
