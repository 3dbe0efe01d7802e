"""Out-of-distribution check for axial disc crops (issue 14, part 5).

Is an axial slice the pipeline classifies like the crops the axial classifier and this check were fitted on?

Features (``features``): the 64x64 disc crop **before CLAHE** (``preprocess.crop_disc(..., use_clahe=False)``;
``DiscCrop.resized`` in TypeScript) resized to 16x16 with the integer half-pixel bilinear rule
(``preprocess.resize_bilinear_u8``; ``resizeBilinear`` in TypeScript), as float64 / 255, row-major: 256 values,
the same bits on both sides (test/parity/ood.test.ts).

Model (``fit``): PCA with ``k`` components of the in-distribution training features, read as a probabilistic PCA:
the ``k`` leading directions keep their own variances, every other direction gets the mean of the discarded
eigenvalues (``residualVariance``). The score of a feature vector x (``score``) is its squared Mahalanobis
distance under that Gaussian, divided by the dimension D = 256 (about 1 for a typical in-distribution crop):

    d = x - mean;  z_i = components_i . d  (i < k);  r = d - sum_i z_i components_i
    score = (sum_i z_i^2 / variances_i + |r|^2 / residualVariance) / D

The threshold is the 0.99 quantile (numpy's default, linear) of the score on held-out in-distribution validation
crops; a crop scoring above it is out of distribution. Stored as JSON (``save``/``load``), read by
packages/pipeline/src/ood.ts.

Command: ``training/.venv/bin/python -m training.ood fit --out models/ax-ood --phantom DIR`` (DIR written by
``node packages/cli/dist/main.js phantom --dataset DIR --studies 40 --seed ood-train``); prints the flagged rates
as one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from training import preprocess as P

FEATURE_SIZE = 16
FORMAT = "ax-ood/ppca-mahalanobis/1"
VERSION = "0.1.0"
QUANTILE = 0.99
REPO = Path(__file__).resolve().parents[1]
MENDELEY_IMAGES = REPO.parent / "shared" / "data" / "mendeley-axial-unlabelled"
MENDELEY_ANNOT = REPO / "annotations" / "mendeley-axial"


# ----------------------------------------------------------------------------------------------
# Features and score
# ----------------------------------------------------------------------------------------------


def small(crop: np.ndarray, size: int = FEATURE_SIZE) -> np.ndarray:
    """64x64 uint8 crop (before CLAHE) -> size x size uint8 (integer bilinear rule)."""
    crop = np.asarray(crop)
    if crop.dtype != np.uint8 or crop.ndim != 2:
        raise ValueError("features expect a 2-D uint8 crop")
    return P.resize_bilinear_u8(np.ascontiguousarray(crop), size, size)


def features(crop: np.ndarray, size: int = FEATURE_SIZE) -> np.ndarray:
    """64x64 uint8 crop (before CLAHE) -> float64 vector of size*size values in [0, 1]."""
    return small(crop, size).astype(np.float64).reshape(-1) / 255.0


def fit(x: np.ndarray, k: int = 8) -> dict:
    """PCA of the rows of ``x`` (n x D features) as a probabilistic PCA (no threshold yet)."""
    x = np.asarray(x, dtype=np.float64)
    n, dim = x.shape
    if not 0 < k < dim or n <= k:
        raise ValueError(f"need 0 < k < {dim} and more than k rows; got k={k}, n={n}")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    eig = s**2 / (n - 1)
    eig_all = np.zeros(dim)
    eig_all[: len(eig)] = eig
    residual = float(eig_all[k:].sum() / (dim - k))
    residual = max(residual, 1e-12)
    comps = vt[:k]
    # a deterministic sign: the largest-magnitude entry of each component is positive
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])
    comps = comps * signs[:, None]
    return {
        "format": FORMAT,
        "features": {"size": FEATURE_SIZE if dim == FEATURE_SIZE**2 else int(round(dim**0.5)), "scale": 255},
        "k": k,
        "mean": mean.tolist(),
        "components": comps.tolist(),
        "variances": eig_all[:k].tolist(),
        "residualVariance": residual,
        "threshold": None,
    }


def score(model: dict, x: np.ndarray) -> np.ndarray:
    """Scores of the rows of ``x`` (or of one vector): see the module docstring."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    mean = np.asarray(model["mean"], dtype=np.float64)
    comps = np.asarray(model["components"], dtype=np.float64)
    var = np.asarray(model["variances"], dtype=np.float64)
    d = x - mean
    z = d @ comps.T
    r = d - z @ comps
    return ((z**2 / var).sum(axis=1) + (r**2).sum(axis=1) / float(model["residualVariance"])) / x.shape[1]


def calibrate(model: dict, x_val: np.ndarray, quantile: float = QUANTILE) -> dict:
    """Sets the threshold to the ``quantile`` of the scores of held-out in-distribution rows."""
    s = score(model, x_val)
    return {**model, "threshold": float(np.quantile(s, quantile)), "thresholdQuantile": quantile}


def flagged(model: dict, x: np.ndarray) -> np.ndarray:
    return score(model, x) > float(model["threshold"])


def save(model: dict, out: str | os.PathLike) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ood.json"
    path.write_text(json.dumps(model, indent=1) + "\n")
    return path


def load(path: str | os.PathLike) -> dict:
    p = Path(path)
    if p.is_dir():
        p = p / "ood.json"
    model = json.loads(p.read_text())
    if model.get("format") != FORMAT:
        raise ValueError(f"{p}: format {model.get('format')!r}, expected {FORMAT}")
    return model


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    return np.array(Image.open(path))


def crop_box(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 64x64 crop (before CLAHE) of an inclusive (x0, y0, x1, y1) box, as crop_disc cuts it."""
    x0, y0, x1, y1 = box
    return P.resize_bilinear_u8(np.ascontiguousarray(image[y0 : y1 + 1, x0 : x1 + 1]), P.CROP_SIZE, P.CROP_SIZE)


def jitter_box(box, rows: int, cols: int, rng: np.random.Generator, shift: float = 0.04, scale: float = 0.08):
    """The box moved by up to ``shift`` of its size and scaled by 1 +- ``scale`` (each axis), kept inside."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0 + 1, y1 - y0 + 1
    cx = (x0 + x1) / 2 + rng.uniform(-shift, shift) * w
    cy = (y0 + y1) / 2 + rng.uniform(-shift, shift) * h
    w2 = max(8.0, w * rng.uniform(1 - scale, 1 + scale))
    h2 = max(8.0, h * rng.uniform(1 - scale, 1 + scale))
    nx0 = int(np.clip(round(cx - w2 / 2), 0, cols - 2))
    ny0 = int(np.clip(round(cy - h2 / 2), 0, rows - 2))
    nx1 = int(np.clip(round(cx + w2 / 2), nx0 + 1, cols - 1))
    ny1 = int(np.clip(round(cy + h2 / 2), ny0 + 1, rows - 1))
    return nx0, ny0, nx1, ny1


def _held_out(key: str, fraction: float = 0.25) -> bool:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction


def phantom_crops(root: Path, rng: np.random.Generator, jitters: int = 3):
    """Axial T2 phantom slices cropped with their ground-truth masks: (train, val) lists of 64x64 crops.
    Patients are split 75/25 by a hash of their id; every slice also gives ``jitters`` jittered boxes."""
    train, val = [], []
    with open(root / "samples.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["view"] == "axial" and "T2" in r["series"]]
    for r in rows:
        img = _read_png(root / r["image"])
        mask = (_read_png(root / r["mask"]) > 0).astype(np.uint8)
        box = P.disc_bbox(mask, "axial")
        if box is None:
            continue
        held = _held_out(r["patient_id"])
        (val if held else train).extend(
            [crop_box(img, box)] + [crop_box(img, jitter_box(box, *img.shape, rng)) for _ in range(jitters)]
        )
    return train, val, len(rows)


def mendeley_rows(split: str | None = None, cut: str | None = None, contrast: str | None = None) -> list[dict]:
    with open(MENDELEY_ANNOT / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    return [
        r
        for r in rows
        if (split is None or r["split"] == split)
        and (cut is None or r["cut"] == cut)
        and (contrast is None or r["contrast"] == contrast)
    ]


def mendeley_image(row: dict) -> np.ndarray:
    return _read_png(MENDELEY_IMAGES / row["file"])


def mendeley_mask(row: dict) -> np.ndarray:
    return (_read_png(MENDELEY_ANNOT / "masks" / row["file"]) == 1).astype(np.uint8)


def real_t2_train_crops(rng: np.random.Generator, jitters: int = 10):
    """Real T2 disc slices of the train split: every 4th file (sorted) is validation. Each slice gives its
    ground-truth crop and ``jitters`` jittered ones (training and validation alike)."""
    rows = sorted(mendeley_rows("train", "disc", "T2"), key=lambda r: r["file"])
    train, val, val_files = [], [], []
    for i, r in enumerate(rows):
        img, box = mendeley_image(r), P.disc_bbox(mendeley_mask(r), "axial")
        crops = [crop_box(img, box)] + [crop_box(img, jitter_box(box, *img.shape, rng)) for _ in range(jitters)]
        if i % 4 == 3:
            val += crops
            val_files.append(r["file"])
        else:
            train += crops
    return train, val, [r["file"] for r in rows], val_files


def seg_crop(runner, img: np.ndarray) -> np.ndarray | None:
    """The crop the pipeline would take: the box of ax-seg-unet's predicted disc (None without one)."""
    mask = runner.segment(img)
    box = P.disc_bbox(mask, "axial")
    return None if box is None else crop_box(img, box)


def noise_crops(n: int, rng: np.random.Generator, size: int = 320) -> list[np.ndarray]:
    """Gaussian noise images (mean 128, sd 40, clipped) cut with the boxes of real disc masks."""
    boxes = [P.disc_bbox(mendeley_mask(r), "axial") for r in mendeley_rows(cut="disc")]
    out = []
    for i in range(n):
        img = np.clip(np.rint(rng.normal(128, 40, (size, size))), 0, 255).astype(np.uint8)
        out.append(crop_box(img, boxes[i % len(boxes)]))
    return out


def _rate(model: dict, crops: list[np.ndarray]) -> dict:
    if not crops:
        return {"n": 0, "flagged": 0, "rate": None}
    f = flagged(model, np.stack([features(c) for c in crops]))
    return {"n": len(crops), "flagged": int(f.sum()), "rate": round(float(f.mean()), 4)}


def run_fit(args) -> dict:
    rng = np.random.default_rng(args.seed)
    ph_train, ph_val, n_ph = phantom_crops(Path(args.phantom), rng, args.phantom_jitters)
    re_train, re_val, re_files, re_val_files = real_t2_train_crops(rng, args.real_jitters)
    x_train = np.stack([features(c) for c in ph_train + re_train])
    x_val = np.stack([features(c) for c in ph_val + re_val])
    model = calibrate(fit(x_train, args.k), x_val, QUANTILE)

    from training.inference import Runner

    seg = Runner(str(REPO / "models" / "ax-seg-unet"), "cpu")
    seg_card = json.loads((REPO / "models" / "ax-seg-unet" / "model.json").read_text())

    def gt(rows):
        return [crop_box(mendeley_image(r), P.disc_bbox(mendeley_mask(r), "axial")) for r in rows]

    def predicted(rows):
        crops = [seg_crop(seg, mendeley_image(r)) for r in rows]
        return [c for c in crops if c is not None], sum(c is None for c in crops)

    t2_test = mendeley_rows("test", "disc", "T2")
    t1_test = mendeley_rows("test", "disc", "T1")
    t1_all = mendeley_rows(cut="disc", contrast="T1")
    bodies_test = [r for r in mendeley_rows("test") if r["cut"] in ("body", "endplate")]
    bodies_all = [r for r in mendeley_rows() if r["cut"] in ("body", "endplate")]
    rates = {
        "validation_in_distribution": _rate(model, ph_val + re_val),
        "validation_phantom": _rate(model, ph_val),
        "validation_real_t2_train_split": _rate(model, re_val),
        "real_t2_disc_test_gt_box": _rate(model, gt(t2_test)),
        "gaussian_noise": _rate(model, noise_crops(args.noise, rng)),
        "real_t1_disc_test_gt_box": _rate(model, gt(t1_test)),
        "real_t1_disc_all_gt_box": _rate(model, gt(t1_all)),
    }
    for name, rows in (
        ("real_t2_disc_test_seg_box", t2_test),
        ("real_t1_disc_train_seg_box", mendeley_rows("train", "disc", "T1")),
        ("real_body_endplate_train_seg_box", [r for r in mendeley_rows("train") if r["cut"] in ("body", "endplate")]),
        ("real_t1_disc_test_seg_box", t1_test),
        ("real_body_endplate_test_seg_box", bodies_test),
        ("real_body_endplate_all_seg_box", bodies_all),
    ):
        crops, missing = predicted(rows)
        rates[name] = {**_rate(model, crops), "no_disc_found": missing}
    model = {
        "name": "ax-ood",
        "version": VERSION,
        **model,
        "score": "(sum_i z_i^2/variances_i + |d - sum_i z_i components_i|^2/residualVariance) / D, "
        "d = features - mean, z_i = components_i . d, D = size^2; out of distribution when score > threshold",
        "featureRule": "the 64x64 disc crop before CLAHE (preprocess.crop_disc use_clahe=False / DiscCrop.resized) "
        "resized to size x size by resize_bilinear_u8 / resizeBilinear, float64 / 255, row-major",
        "data": {
            "fit": {
                "phantom": f"{Path(args.phantom).name}: node packages/cli/dist/main.js phantom --studies 40 "
                f"--seed ood-train, axial T2 slices ({n_ph}) cropped with their ground-truth masks; 75 % of "
                f"patients by hash, each slice + {args.phantom_jitters} jittered boxes ({len(ph_train)} crops)",
                "real": f"annotations/mendeley-axial train split, cut disc, T2 ({len(re_files) - len(re_val_files)} "
                f"slices, ground-truth boxes + {args.real_jitters} jittered boxes each: {len(re_train)} crops)",
                "jitter": "box centre moved by up to 4 % of its size, width and height scaled by 0.92-1.08",
                "seed": args.seed,
            },
            "calibration": {
                "phantom": f"the other 25 % of patients, ground-truth + jittered boxes ({len(ph_val)} crops)",
                "real": f"every 4th train T2 disc slice: {re_val_files}, ground-truth + jittered boxes "
                f"({len(re_val)} crops)",
                "quantile": QUANTILE,
            },
            "segmentation": {"name": seg_card["name"], "version": seg_card["version"]},
        },
        "rates": rates,
    }
    save(model, args.out)
    return rates


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m training.ood", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="fit, calibrate and write OUT/ood.json; prints the flagged rates as one JSON line")
    f.add_argument("--out", default=str(REPO / "models" / "ax-ood"))
    f.add_argument("--phantom", required=True, help="a phantom --dataset folder (seed ood-train)")
    f.add_argument("--k", type=int, default=8)
    f.add_argument("--seed", type=int, default=14)
    f.add_argument("--phantom-jitters", type=int, default=3)
    f.add_argument("--real-jitters", type=int, default=10)
    f.add_argument("--noise", type=int, default=200)
    a = ap.parse_args(argv)
    if a.cmd == "fit":
        print(json.dumps(run_fit(a)))


if __name__ == "__main__":
    sys.exit(main())
