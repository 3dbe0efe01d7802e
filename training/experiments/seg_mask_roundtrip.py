"""How much disc Dice the letterbox itself costs, before any model: every SPIDER t2_space disc mask is letterboxed to
SIZE and brought back to its own size, by nearest neighbour (the 0.1.0/0.2.0 rule: masks letterboxed with
`letterbox(nearest=True)`, predictions thresholded then `unletterbox_mask`) and smoothly (`letterbox_mask_smooth`,
then the 0/1 canvas resized back with `unletterbox_prob` > 0.5, the sag-seg-unet 0.3.0 rule); prints the Dice of
each round trip against the original masks, and the discs' mean thickness in pixels (area / width per component).
Usage: training/.venv/bin/python -m training.experiments.seg_mask_roundtrip [SIZE ...]   (default 256 320 384 448)"""

from __future__ import annotations

import glob
import json
import os
import sys

import cv2
import numpy as np
from PIL import Image

from training import preprocess as P

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPIDER = os.path.join(ROOT, "..", "shared", "data", "spider")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    sizes = [int(s) for s in args] or [256, 320, 384, 448]
    files = sorted(glob.glob(os.path.join(SPIDER, "t2_space", "masks", "*.png")))
    if not files:
        sys.exit("no SPIDER t2_space masks under ../shared/data/spider")
    masks = [(np.array(Image.open(f)) == 2).astype(np.uint8) for f in files]
    thick = []
    for m in masks:
        n, _, st, _ = cv2.connectedComponentsWithStats(m)
        thick += [
            st[k, cv2.CC_STAT_AREA] / st[k, cv2.CC_STAT_WIDTH] for k in range(1, n) if st[k, cv2.CC_STAT_AREA] > 30
        ]
    shape = sorted({m.shape for m in masks})
    print(
        json.dumps(
            {
                "masks": len(masks),
                "shapes": [list(s) for s in shape],
                "disc_thickness_px": {
                    "mean": round(float(np.mean(thick)), 2),
                    "p10": round(float(np.percentile(thick, 10)), 2),
                    "median": round(float(np.median(thick)), 2),
                },
            }
        )
    )
    for size in sizes:
        acc = {"nearest": [0, 0], "smooth": [0, 0]}
        for m in masks:
            t = m > 0
            lb, g = P.letterbox(m, size, nearest=True)
            near = P.unletterbox_mask(lb, g) > 0
            sm, g2 = P.letterbox_mask_smooth(m, size)
            smooth = P.unletterbox_prob(sm.astype(np.float64), g2) > 0.5
            for k, r in (("nearest", near), ("smooth", smooth)):
                acc[k][0] += 2 * int((r & t).sum())
                acc[k][1] += int(r.sum() + t.sum())
        print(
            json.dumps(
                {
                    "letterbox": size,
                    "scale": round(size / max(shape[-1]), 3),
                    **{f"dice_{k}": round(a / b, 4) for k, (a, b) in acc.items()},
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
