"""Project-annotated axial slices (``annotations/mendeley-axial``): real axial lumbar MRI with lumbar-ai disc masks.

Layout read::

    ROOT/labels.csv        file, cut (disc | endplate | body | none), contrast (T1 | T2), split (train | test),
                           disc_area_px, sac_area_px, uncertain
    ROOT/masks/<file>      uint8 label map, image size: 0 background, 1 disc, 2 thecal sac (not drawn)
    IMAGES/<file>          the 8-bit images (not in the repository)

IMAGES, first found: ``$LUMBAR_MENDELEY_AXIAL_DIR`` (or ``$MENDELEY_AXIAL_DIR``, which the annotation tool
reads); ``ROOT/images/``; ``../shared/data/mendeley-axial-unlabelled`` relative to the repository root (the
folder the annotations' README names).

Segmentation records only (axial): one per slice, each slice its own "patient" (patient identities are not
known). Slices without a disc (``cut`` endplate / body / none) are negatives: their disc mask is all zeros.
The data set fixes its own split: ``labels.csv``'s ``test`` slices always go to the test part (never to
training or validation), and the ``train`` slices go to training except :data:`VAL_SLICES` of them, a
seeded choice stratified by disc / no disc and contrast, that form the validation part
(:func:`assign_parts`; ``training.prepare.make_split`` applies it and writes it into the run's ``split.json``).

Images: Sudirman et al., Lumbar Spine MRI Dataset, Mendeley Data, doi 10.17632/k57fr854j2.2, CC BY 4.0. The
masks are lumbar-ai project annotations (one non-clinical reader), not a radiologist's.
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass

import numpy as np

from training.datasets.common import Record

SOURCE = "mendeley-axial"
LICENCE = "CC BY 4.0"
CITATION = (
    'Images: S. Sudirman et al., "Lumbar Spine MRI Dataset", Mendeley Data, V2, doi 10.17632/k57fr854j2.2, CC BY 4.0; '
    "disc masks: lumbar-ai project annotations (annotations/mendeley-axial, one non-clinical reader, not a "
    "radiologist's), CC BY 4.0"
)
ENV_DIRS = ("LUMBAR_MENDELEY_AXIAL_DIR", "MENDELEY_AXIAL_DIR")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_IMAGE_DIR = os.path.join(REPO_ROOT, "..", "shared", "data", "mendeley-axial-unlabelled")
DISC_VALUE = 1
VAL_SLICES = 8  # train slices held out for validation (every choice is made on them, never on test)
COLUMNS = {"file", "cut", "contrast", "split"}


def is_annotated(root: str) -> bool:
    path = os.path.join(root, "labels.csv")
    if not (os.path.isfile(path) and os.path.isdir(os.path.join(root, "masks"))):
        return False
    with open(path, newline="") as f:
        header = next(csv.reader(f), [])
    return COLUMNS <= {h.strip() for h in header}


def image_dir(root: str) -> str:
    for var in ENV_DIRS:
        if os.environ.get(var):
            return os.environ[var]
    local = os.path.join(root, "images")
    if os.path.isdir(local):
        return local
    return os.path.normpath(DEFAULT_IMAGE_DIR)


def read_labels(root: str) -> list[dict]:
    with open(os.path.join(root, "labels.csv"), newline="") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


@dataclass
class AnnotatedRecord(Record):
    """A record whose mask is a project label map (1 = disc; 2 = thecal sac is not disc)."""

    def disc_mask(self) -> np.ndarray | None:
        if self.mask_path is None:
            return None
        return self._fit((self._raw_mask() == DISC_VALUE).astype(np.uint8))

    def level_map(self) -> np.ndarray | None:
        # levels are not annotated: disc pixels get 0 (unknown level), as every other background pixel
        m = self.disc_mask()
        return None if m is None else np.zeros_like(m)


def load(root: str, task: str, view: str = "axial") -> list[AnnotatedRecord]:
    if task != "segmentation" or view != "axial":
        return []
    images = image_dir(root)
    out = []
    for row in read_labels(root):
        name = row["file"]
        stem = os.path.splitext(name)[0]
        split = row["split"].lower()
        if split not in ("train", "test"):
            raise ValueError(f"{root}/labels.csv: {name}: split {row['split']!r} is neither train nor test")
        image_path = os.path.join(images, name)
        if not os.path.isfile(image_path):
            raise FileNotFoundError(
                f"{image_path} (annotated slice {name}; set LUMBAR_MENDELEY_AXIAL_DIR to the image folder)"
            )
        out.append(
            AnnotatedRecord(
                sample_id=f"{SOURCE}:{stem}",
                patient_id=f"{SOURCE}:{stem}",
                source=SOURCE,
                view="axial",
                image_path=image_path,
                mask_path=os.path.join(root, "masks", name),
                mask_kind="annotated",
                meta={
                    "cut": row["cut"],
                    "contrast": row["contrast"],
                    "split": split,
                    "disc": row["cut"] == "disc",
                    "uncertain": row.get("uncertain", "0") == "1",
                },
            )
        )
    return out


def assign_parts(records: list[Record], seed: int = 0, n_val: int = VAL_SLICES) -> dict[str, str]:
    """Patient id -> part for this data set's records: ``test`` slices -> 'test'; of the ``train`` slices,
    ``n_val`` (at most a quarter of them) -> 'val' (seeded, apportioned over the strata disc / no disc x contrast by
    largest remainder), the rest -> 'train'."""
    parts: dict[str, str] = {}
    strata: dict[tuple, list[str]] = {}
    for r in records:
        if r.source != SOURCE:
            continue
        if r.meta["split"] == "test":
            parts[r.patient_id] = "test"
        else:
            strata.setdefault((not r.meta["disc"], r.meta["contrast"]), []).append(r.patient_id)
    keys = sorted(strata)
    sizes = [len(strata[k]) for k in keys]
    n = sum(sizes)
    n_val = min(n_val, n // 4)  # small data sets (tests): at most a quarter of the train slices
    exact = [s * n_val / n for s in sizes] if n else []
    quota = [int(e) for e in exact]
    for i in sorted(range(len(keys)), key=lambda i: (-(exact[i] - quota[i]), i))[: n_val - sum(quota)]:
        quota[i] += 1
    rng = random.Random(seed)
    for k, q in zip(keys, quota):
        pats = sorted(set(strata[k]))
        rng.shuffle(pats)
        for i, p in enumerate(pats):
            parts[p] = "val" if i < q else "train"
    return parts


__all__ = [
    "AnnotatedRecord",
    "CITATION",
    "SOURCE",
    "VAL_SLICES",
    "assign_parts",
    "image_dir",
    "is_annotated",
    "load",
    "read_labels",
]
