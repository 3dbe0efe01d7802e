"""SPIDER (real sagittal lumbar MRI, CC BY 4.0) as prepared in ../shared/data/spider.

Segmentation: ``t2_space/images/*.png`` with ``t2_space/masks/*.png`` (0 bg, 1 vertebra, 2 disc,
3 canal); disc levels from disc components ordered from the bottom (1 = lowest ~ L5-S1).
Classification: ``sagittal_t2/*.png`` (no masks: crops need a segmentation model) with the grade
``Disc herniation`` of ``radiological_gradings.csv`` at IVD label 1 (lowest, ~L5-S1) and 2 (~L4-L5).
Patients with both herniated are dropped by default. Patient = the number before the first ``_``.
"""

from __future__ import annotations

import csv
import os

from training.datasets.common import Record, sagittal_class

SOURCE = "spider"
CITATION = (
    'J.W. van der Graaf et al., "Lumbar spine segmentation in MR images: a dataset and a public '
    'benchmark", Scientific Data 11 (2024), Zenodo doi 10.5281/zenodo.10159290, licensed CC BY 4.0'
)
LICENCE = "CC BY 4.0"


def is_spider(root: str) -> bool:
    return any(os.path.exists(os.path.join(root, p)) for p in ("t2_space", "sagittal_t2", "radiological_gradings.csv"))


def patient_of(filename: str) -> str:
    return os.path.basename(filename).split("_")[0]


def gradings(root: str) -> dict[str, dict[int, bool]]:
    """patient -> {IVD label: herniated}."""
    path = os.path.join(root, "radiological_gradings.csv")
    out: dict[str, dict[int, bool]] = {}
    if not os.path.isfile(path):
        return out
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                ivd = int(row["IVD label"])
                hern = int(float(row["Disc herniation"])) == 1
            except (KeyError, ValueError):
                continue
            out.setdefault(row["Patient"].strip(), {})[ivd] = hern
    return out


def load(root: str, task: str, view: str = "sagittal", both: str = "drop") -> list[Record]:
    if view != "sagittal":
        return []
    out: list[Record] = []
    if task == "segmentation":
        img_dir = os.path.join(root, "t2_space", "images")
        mask_dir = os.path.join(root, "t2_space", "masks")
        if not os.path.isdir(img_dir):
            return []
        for name in sorted(os.listdir(img_dir)):
            if not name.endswith(".png") or not os.path.isfile(os.path.join(mask_dir, name)):
                continue
            out.append(
                Record(
                    sample_id=f"{SOURCE}:{name[:-4]}",
                    patient_id=f"{SOURCE}:{patient_of(name)}",
                    source=SOURCE,
                    view="sagittal",
                    image_path=os.path.join(img_dir, name),
                    mask_path=os.path.join(mask_dir, name),
                    mask_kind="spider",
                )
            )
        return out
    grades = gradings(root)
    img_dir = os.path.join(root, "sagittal_t2")
    if not os.path.isdir(img_dir):
        return []
    for name in sorted(os.listdir(img_dir)):
        if not name.endswith(".png"):
            continue
        p = patient_of(name)
        g = grades.get(p)
        if not g or 1 not in g or 2 not in g:
            continue
        label = sagittal_class(g[2], g[1], both)
        if label is None:
            continue
        out.append(
            Record(
                sample_id=f"{SOURCE}:{name[:-4]}",
                patient_id=f"{SOURCE}:{p}",
                source=SOURCE,
                view="sagittal",
                image_path=os.path.join(img_dir, name),
                label=label,
            )
        )
    return out
