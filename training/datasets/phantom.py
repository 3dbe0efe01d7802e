"""Phantom training layout (docs/DATASET-LAYOUT.md), written by ``npx lumbar phantom --dataset DIR``.

All images are synthetic. Sagittal classifier label per image, from the patient's classes at
L4-L5 (mask value 5) and L5-S1 (mask value 6): a level is herniated when its class is central,
left or right (a bulge is not a herniation). Images where both are herniated are dropped by
default (``both='drop'``), as for SPIDER; images whose mask does not show both levels are skipped
(their crop would not contain them). Axial label: the class of the level the slice goes through
(``samples.csv`` column ``level``).
"""

from __future__ import annotations

import csv
import json
import os

from training.datasets.common import AXIAL_CLASSES, HERNIATED, LEVELS, Record, classes_for, sagittal_class

SOURCE = "phantom"


def is_phantom(root: str) -> bool:
    return os.path.isfile(os.path.join(root, "samples.csv"))


def _read_csv(path: str) -> list[dict]:
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _level_value(level: str) -> int | None:
    level = (level or "").strip().replace("/", "-")
    return LEVELS.index(level) + 1 if level in LEVELS else None


def dataset_info(root: str) -> dict:
    p = os.path.join(root, "dataset.json")
    if os.path.isfile(p):
        with open(p) as f:
            return json.load(f)
    return {}


def load(root: str, task: str, view: str, both: str = "drop", drop_bulge: bool = False) -> list[Record]:
    samples = _read_csv(os.path.join(root, "samples.csv"))
    labels = _read_csv(os.path.join(root, "labels.csv"))
    by_sample: dict[str, dict[int, str]] = {}
    for row in labels:
        try:
            mv = int(row["mask_value"])
        except (KeyError, ValueError):
            mv = _level_value(row.get("level", "")) or 0
        by_sample.setdefault(row["sample"], {})[mv] = row["class"].strip()
    classes = classes_for(view, drop_bulge)
    out: list[Record] = []
    for s in samples:
        if s["view"].strip() != view:
            continue
        rec = Record(
            sample_id=f"{SOURCE}:{s['sample']}",
            patient_id=f"{SOURCE}:{s['patient_id']}",
            source=SOURCE,
            view=view,
            image_path=os.path.join(root, s["image"]),
            mask_path=os.path.join(root, s["mask"]) if s.get("mask") else None,
            mask_kind="phantom",
            meta={"study_uid": s.get("study_uid"), "series": s.get("series"), "slice_index": s.get("slice_index")},
        )
        if task == "segmentation":
            if rec.mask_path:
                out.append(rec)
            continue
        levels = by_sample.get(s["sample"], {})
        if view == "sagittal":
            if 5 not in levels or 6 not in levels:
                continue
            label = sagittal_class(levels[5] in HERNIATED, levels[6] in HERNIATED, both)
        else:
            lv = _level_value(s.get("level", ""))
            if lv is None or lv not in levels:
                continue
            name = levels[lv]
            if name not in classes:
                continue  # e.g. 'bulge' when drop_bulge
            label = classes.index(name)
            rec.meta["level"] = LEVELS[lv - 1]
        if label is None:
            continue
        rec.label = label
        out.append(rec)
    return out


__all__ = ["load", "is_phantom", "dataset_info", "AXIAL_CLASSES"]
