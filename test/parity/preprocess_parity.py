"""Python side of the preprocessing parity test (test/parity/preprocess.test.ts runs it).

Usage: training/.venv/bin/python test/parity/preprocess_parity.py DIR

Reads DIR/manifest.json and the raw inputs it names (written by the TypeScript test), runs
training/preprocess/ on them, and writes DIR/py/<case>.<stage>.bin (raw C-order bytes) and
DIR/py/results.json (small values: windows, boxes, components, geometry). Nothing else.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: `import training`

from training import preprocess as P  # noqa: E402 -- after the sys.path entry for the repository root

DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "int16": np.int16, "float64": np.float64}


def load(root: Path, entry: dict) -> np.ndarray:
    arr = np.fromfile(root / entry["file"], dtype=DTYPES[entry.get("dtype", "uint8")])
    return arr.reshape(entry["shape"])


def run_case(root: Path, out: Path, case: dict) -> dict:
    cid, kind = case["id"], case["kind"]

    def save(stage, a):
        np.ascontiguousarray(a).tofile(out / f"{cid}.{stage}.bin")

    res: dict = {}
    if kind == "window":
        v = load(root, case["input"])
        res["window"] = list(P.percentile_window(v))
        save("u8", P.to_uint8(v))
    elif kind == "image":
        img, mask = load(root, case["image"]), load(root, case["mask"])
        res["components"] = [asdict(c) for c in P.disc_components(mask)]
        save("levels", P.levels_from_bottom(mask))
        for view in ("axial", "sagittal"):
            box = P.disc_bbox(mask, view)
            res[f"bbox.{view}"] = None if box is None else list(box)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            resized = P.resize_bilinear_u8(
                np.ascontiguousarray(img[y0 : y1 + 1, x0 : x1 + 1]), P.CROP_SIZE, P.CROP_SIZE
            )
            save(f"{view}.resized", resized)
            save(f"{view}.clahe_cv2", P.clahe(resized))
            save(f"{view}.clahe_ref", P.clahe_reference(resized))
            crop = P.crop_disc(img, mask, view)
            save(f"{view}.crop", crop)
            save(f"{view}.tensor", P.crop_to_input(crop).astype(np.float32))
        lb, g = P.letterbox(img)
        res["letterbox"] = asdict(g)
        save("letterbox", lb)
        save("seg_tensor", P.seg_input(img)[0].astype(np.float32))
        save("letterbox384", P.letterbox(img, 384)[0])
        lbm, gm = P.letterbox(mask, nearest=True)
        save("letterbox_mask", lbm)
        save("unletterbox", P.unletterbox_mask(lbm, gm))
    elif kind == "resize":
        img = load(root, case["input"])
        h, w = case["out"]
        save("bilinear", P.resize_bilinear_u8(img, h, w))
        save("nearest", P.resize_nearest(img, h, w))
        save("cv2_linear", cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR))
    elif kind == "clahe":
        img = load(root, case["input"])
        save("clahe_cv2", P.clahe(img))
        if img.shape[0] % P.CLAHE_TILES[1] == 0 and img.shape[1] % P.CLAHE_TILES[0] == 0:
            save("clahe_ref", P.clahe_reference(img))  # it only takes sizes that divide by the grid
    elif kind == "probability":
        prob = load(root, case["input"])
        g = P.letterbox_geometry(case["rows"], case["cols"], case["size"])
        save("unletterbox_prob", P.unletterbox_prob(prob, g).astype(np.float64))
        save("prob_mask_bilinear", P.prob_to_mask(prob, g, "bilinear-probability"))
        save("prob_mask_nearest", P.prob_to_mask(prob, g, "nearest-mask"))
    elif kind == "unletterbox":
        mask = load(root, case["input"])
        g = P.letterbox_geometry(case["rows"], case["cols"], mask.shape[0])
        res["letterbox"] = asdict(g)
        save("unletterbox", P.unletterbox_mask(mask, g))
    else:
        raise ValueError(f"unknown case kind {kind!r}")
    return res


def main() -> None:
    root = Path(sys.argv[1])
    out = root / "py"
    out.mkdir(exist_ok=True)
    manifest = json.loads((root / "manifest.json").read_text())
    results = {c["id"]: run_case(root, out, c) for c in manifest["cases"]}
    meta = {"opencv": cv2.__version__, "numpy": np.__version__}
    (out / "results.json").write_text(json.dumps({"meta": meta, "cases": results}))


if __name__ == "__main__":
    main()
