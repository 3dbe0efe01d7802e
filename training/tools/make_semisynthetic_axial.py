"""Semi-synthetic axial classifier data (issue 14, part 3): real Mendeley axial disc slices with inserted pathology.

    training/.venv/bin/python -m training.tools.make_semisynthetic_axial OUT_DIR [--variants N] [--seed S]
        [--phantom PHANTOM_DIR] [--val-slices K] [--files a.png,b.png]

Writes OUT_DIR in the **phantom training layout** (docs/DATASET-LAYOUT.md; read by training/datasets/phantom.py):
dataset.json, truth.json, samples.csv, labels.csv, images/<sample>.png, masks/<sample>.png, plus split.json.

From every real slice of annotations/mendeley-axial/labels.csv with ``cut == disc`` (images in
../shared/data/mendeley-axial-unlabelled/, masks in annotations/mendeley-axial/masks/, 1 = disc):
- the original slice, class ``healthy``: an unmodified real slice, **assumed** healthy (it may already hold a bulge
  or a herniation: the data set has no pathology labels);
- N variants per class bulge / central / left / right made by training/insert_pathology.py ``insert`` (the disc's own
  pixels moved by a smooth field): bulge 1.5-3 mm, focal 2-8 mm, focal ones an extrusion with probability 1/3;
  1.0 mm/pixel assumed. left/right are the patient's (patient's left = image right);
- ``--sham K``: K sham insertions per slice, class ``healthy`` (the same warp with a 0.2-0.5 mm margin displacement,
  below a pixel), so that the resampling of an inserted slice is not itself a cue for disease.
Each slice's mask is the (warped) disc mask written with value 5 (L4-L5): the real level is not known, 5 only
tells the loader which level the slice goes through (``samples.csv`` level L4-L5).

Patients: ``patient_id`` = ``mendeley:<file stem>`` (the loader makes it ``phantom:mendeley:<stem>``), so a real
slice and all its variants are one patient. split.json (training/splits.py format, usable by ``train --split``):
the annotation's ``test`` slices (the 18 ``validation__*`` files) only in ``test``; ``--val-slices`` of the train
slices (seeded) in ``val``, the rest in ``train``. ``--phantom DIR``: the patients of that phantom folder are split
80:10:10 (splits.split_patients, seeded) into the same file, so one split covers ``--data OUT --data PHANTOM``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random

import cv2
import numpy as np

from training import insert_pathology as IP
from training import splits as S

LEVEL, MASK_VALUE = "L4-L5", 5
KINDS = ("bulge", "central", "left", "right")
EXTRUSION_P = 1 / 3
SHAM_MM = (0.2, 0.5)  # --sham: sub-pixel warps labelled healthy
PIXEL_MM = 1.0
VERSION = "0.1.0"
CITATION = "Sudirman, S. et al., Lumbar Spine MRI Dataset, Mendeley Data, doi 10.17632/k57fr854j2.2 (CC BY 4.0)"


def disc_rows(ann_dir: str) -> list[dict]:
    with open(os.path.join(ann_dir, "labels.csv"), newline="") as f:
        return [r for r in csv.DictReader(f) if r["cut"] == "disc"]


def make_variant(img, mask, kind, rng):
    """One inserted variant; sizes drawn from the typical ranges; retried smaller if the disc is too thin."""
    lo, hi = IP.SIZE_RANGE_MM[kind]
    shape = "extrusion" if kind != "bulge" and rng.random() < EXTRUSION_P else "protrusion"
    size = float(rng.uniform(lo, hi))
    for _ in range(6):
        try:
            new_img, new_mask, info = IP.insert(img, mask, kind, size, PIXEL_MM, rng, shape=shape)
            return new_img, new_mask, info
        except ValueError:
            size = max(lo, size * 0.75)
            if shape == "extrusion":
                shape = "protrusion"
    raise ValueError(f"could not insert {kind}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--variants", type=int, default=3, help="variants per pathology class per slice (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--sham",
        type=int,
        default=0,
        help="sham insertions per slice, class healthy: the same warp at 0.2-0.5 mm (below a pixel), so "
        "that resampling alone does not mark a slice as diseased (default 0)",
    )
    ap.add_argument("--val-slices", type=int, default=7, help="train slices put in the validation part (default 7)")
    ap.add_argument("--phantom", help="phantom training folder whose patients are also split into split.json")
    ap.add_argument("--files", help="comma-separated file names: only these disc slices (tests)")
    ap.add_argument("--ann-dir", default=IP.ANN_DIR)
    ap.add_argument("--img-dir", default=IP.IMG_DIR)
    a = ap.parse_args(argv)

    rows = disc_rows(a.ann_dir)
    if a.files:
        want = set(a.files.split(","))
        rows = [r for r in rows if r["file"] in want]
    if not rows:
        raise SystemExit("no disc slices selected")
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "masks"), exist_ok=True)
    rng = np.random.default_rng(a.seed)
    samples, labels, truth, inserted = [], [], {}, []
    for r in rows:
        stem = os.path.splitext(r["file"])[0]
        pid = f"mendeley:{stem}"
        img, mask = IP.load_slice(r["file"], a.ann_dir, a.img_dir)
        items = [("orig", "healthy", img, mask.astype(np.uint8), None)]
        for kind in KINDS:
            for k in range(a.variants):
                ni, nm, info = make_variant(img, mask, kind, rng)
                items.append((f"{kind}{k}", kind, ni, nm, info))
        for k in range(a.sham):
            kind = KINDS[int(rng.integers(len(KINDS)))]
            ni, nm, info = IP.insert(img, mask, kind, float(rng.uniform(*SHAM_MM)), PIXEL_MM, rng)
            items.append((f"sham{k}", "healthy", ni, nm, {**info, "sham": True}))
        for i, (tag, cls, im, m, info) in enumerate(items):
            sample = f"mendeley_{stem}_ax_{tag}"
            cv2.imwrite(os.path.join(a.out, "images", sample + ".png"), im)
            cv2.imwrite(os.path.join(a.out, "masks", sample + ".png"), (m > 0).astype(np.uint8) * MASK_VALUE)
            samples.append(
                {
                    "sample": sample,
                    "patient_id": pid,
                    "study_uid": pid,
                    "view": "axial",
                    "series": r["contrast"],
                    "slice_index": i,
                    "image": f"images/{sample}.png",
                    "mask": f"masks/{sample}.png",
                    "rows": im.shape[0],
                    "cols": im.shape[1],
                    "pixel_spacing_mm": PIXEL_MM,
                    "level": LEVEL,
                }
            )
            labels.append(
                {
                    "sample": sample,
                    "patient_id": pid,
                    "view": "axial",
                    "level": LEVEL,
                    "mask_value": MASK_VALUE,
                    "class": cls,
                }
            )
            if info is not None:
                inserted.append(
                    {
                        "sample": sample,
                        "split": r["split"],
                        **{k: info[k] for k in ("kind", "shape", "size_mm", "max_displacement_mm", "added_area_px")},
                        "class": cls,
                    }
                )
        truth[pid] = {
            "source_file": r["file"],
            "annotation_split": r["split"],
            "contrast": r["contrast"],
            "levels": {LEVEL: "healthy (assumed: unmodified real slice)"},
            "variants": {k: a.variants for k in KINDS},
        }

    with open(os.path.join(a.out, "samples.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(samples[0]))
        w.writeheader()
        w.writerows(samples)
    with open(os.path.join(a.out, "labels.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(labels[0]))
        w.writeheader()
        w.writerows(labels)
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
    with open(os.path.join(a.out, "inserted.json"), "w") as f:
        json.dump(inserted, f, indent=1)

    # split: loader ids are phantom:<patient_id>
    test = sorted(f"phantom:mendeley:{os.path.splitext(r['file'])[0]}" for r in rows if r["split"] == "test")
    trainval = sorted(f"phantom:mendeley:{os.path.splitext(r['file'])[0]}" for r in rows if r["split"] == "train")
    random.Random(a.seed).shuffle(trainval)
    n_val = min(a.val_slices, max(0, len(trainval) - 1))
    split = {
        "version": S.SPLIT_VERSION,
        "method": f"semi-synthetic: annotation test slices -> test; {n_val} seeded train slices -> val",
        "seed": a.seed,
        "stratified": False,
        "train": sorted(trainval[n_val:]),
        "val": sorted(trainval[:n_val]),
        "test": test,
    }
    if a.phantom:
        with open(os.path.join(a.phantom, "samples.csv"), newline="") as f:
            pids = sorted({f"phantom:{s['patient_id']}" for s in csv.DictReader(f) if s["view"] == "axial"})
        ph = S.split_patients(pids, seed=a.seed)
        for part in ("train", "val", "test"):
            split[part] = sorted(split[part] + ph[part])
        split["method"] += f"; phantom {os.path.normpath(a.phantom)}: {ph['method']} seed {a.seed}"
    S.check_disjoint(split)
    S.write_split(split, os.path.join(a.out, "split.json"))

    counts: dict[str, int] = {}
    for lab in labels:
        counts[lab["class"]] = counts.get(lab["class"], 0) + 1
    info = {
        "generator": "lumbar-ai semi-synthetic axial (training/tools/make_semisynthetic_axial.py)",
        "version": VERSION,
        "kind": "semi-synthetic",
        "description": (
            "Real axial lumbar MRI slices (Mendeley Lumbar Spine MRI Dataset) with lumbar-ai project disc "
            "masks and pathology inserted by training/insert_pathology.py (the disc's own pixels moved by "
            "a smooth field). Originals are class healthy: unmodified real slice, assumed healthy (may "
            "already hold a bulge). Not clinical ground truth."
        ),
        "images": CITATION,
        "licence": "CC BY 4.0 (derived from the Mendeley data set; credit Sudirman et al. and the lumbar-ai project)",
        "masks": "lumbar-ai project annotations (annotations/mendeley-axial, one non-clinical reader), warped with "
        "the inserted pathology",
        "mask_value": {str(MASK_VALUE): f"{LEVEL} (placeholder: the real level is unknown)"},
        "pixel_spacing_mm": f"{PIXEL_MM} (assumed)",
        "seed": a.seed,
        "studies": len(rows),
        "variants_per_class": a.variants,
        "sizes_mm": {k: list(IP.SIZE_RANGE_MM[k]) for k in KINDS},
        "extrusion_probability": EXTRUSION_P,
        "sham_per_slice": a.sham,
        "sham": (
            "samples *_ax_sham<k>: class healthy, the same warp with a margin displacement of "
            f"{SHAM_MM[0]}-{SHAM_MM[1]} mm (below a pixel): resampled like the variants but not diseased"
        ),
        "side_convention": "patient's left = image right (radiological display)",
        "classes": ["healthy", "bulge", "central", "left", "right"],
        "class_counts": counts,
        "split": "split.json: annotation test slices (validation__*) only in test",
    }
    with open(os.path.join(a.out, "dataset.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(
        json.dumps(
            {
                "out": a.out,
                "slices": len(rows),
                "images": len(samples),
                "classes": counts,
                "split": {k: len(split[k]) for k in ("train", "val", "test")},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
