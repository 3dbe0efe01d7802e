"""Golden vectors for the preprocessing rules, shared with the TypeScript side.

``python -m training.tests.golden_preprocess`` (re)writes ``golden/preprocess.json``; the test
``test_golden.py`` recomputes every case and requires equality, so the file always states what
training/preprocess/ does. TypeScript (packages/imaging) can load the same file and compare.
Arrays are stored row-major as flat lists with their [rows, cols].
"""

from __future__ import annotations

import json
import os

import cv2
import numpy as np

from training import preprocess as P

PATH = os.path.join(os.path.dirname(__file__), "golden", "preprocess.json")


def _arr(a: np.ndarray) -> dict:
    a = np.asarray(a)
    return {"shape": list(a.shape), "data": [int(v) for v in a.ravel()]}


def _image(rng, rows, cols):
    base = cv2.GaussianBlur(rng.integers(0, 256, (rows, cols)).astype(np.uint8), (5, 5), 2)
    return np.clip(base.astype(int) + rng.integers(-20, 21, (rows, cols)), 0, 255).astype(np.uint8)


def cases() -> dict:
    rng = np.random.default_rng(20240601)
    out: dict = {
        "version": 1,
        "generator": "training/tests/golden_preprocess.py",
        "window": [],
        "crop": [],
        "letterbox": [],
        "resize": [],
    }
    # 1. 16 -> 8 bits
    for rows, cols, hi in [(20, 20, 4096), (9, 7, 300)]:
        v = rng.integers(0, hi, (rows, cols))
        v[0, 0] = hi * 3  # outlier above the 99.5th percentile
        lo_, hi_ = P.percentile_window(v)
        out["window"].append({"input": _arr(v), "lo": lo_, "hi": hi_, "output": _arr(P.to_uint8(v))})
    # 2. crops (axial: largest component; sagittal: two lowest), including a box cut at the border
    specs = [
        ("axial", 48, 56, [((28, 24), (14, 8))], [(3, 3, 2, 2)]),
        ("axial", 40, 44, [((6, 30), (10, 6)), ((30, 10), (6, 4))], []),
        (
            "sagittal",
            70,
            50,
            [((25, 10), (9, 3)), ((25, 28), (10, 3)), ((24, 46), (11, 4)), ((22, 63), (12, 4))],
            [(45, 5, 1, 1)],
        ),
    ]
    for view, rows, cols, ellipses, specks in specs:
        img = _image(rng, rows, cols)
        mask = np.zeros((rows, cols), np.uint8)
        for (cx, cy), (ax, ay) in ellipses:
            cv2.ellipse(mask, (cx, cy), (ax, ay), 0, 0, 360, 1, -1)
        for x, y, w, h in specks:
            mask[y : y + h, x : x + w] = 1
        x0, y0, x1, y1 = P.disc_bbox(mask, view)
        resized = P.resize_bilinear_u8(np.ascontiguousarray(img[y0 : y1 + 1, x0 : x1 + 1]), 64, 64)
        out["crop"].append(
            {
                "view": view,
                "image": _arr(img),
                "mask": _arr(mask),
                "box": {"x0": x0, "y0": y0, "x1": x1, "y1": y1},
                "resized": _arr(resized),
                "clahe": _arr(P.clahe(resized)),
            }
        )
    # 3. resize, up and down, odd sizes
    for (r, c), (R, C) in [((5, 7), (9, 4)), ((13, 3), (4, 11))]:
        img = rng.integers(0, 256, (r, c)).astype(np.uint8)
        out["resize"].append(
            {
                "input": _arr(img),
                "rows": R,
                "cols": C,
                "bilinear": _arr(P.resize_bilinear_u8(img, R, C)),
                "nearest": _arr(P.resize_nearest(img, R, C)),
            }
        )
    # 4. letterbox (U-Net input) and back
    for rows, cols, size in [(40, 25, 32), (21, 30, 16)]:
        img = _image(rng, rows, cols)
        lb, g = P.letterbox(img, size)
        pred = (lb > 128).astype(np.uint8)
        out["letterbox"].append(
            {
                "image": _arr(img),
                "size": size,
                "geometry": {"new_rows": g.new_rows, "new_cols": g.new_cols, "top": g.top, "left": g.left},
                "letterboxed": _arr(lb),
                "mask_in": _arr(pred),
                "mask_back": _arr(P.unletterbox_mask(pred, g)),
            }
        )
    return out


def write(path: str = PATH) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(cases(), f, separators=(",", ":"))
        f.write("\n")
    return path


if __name__ == "__main__":
    print(write())
