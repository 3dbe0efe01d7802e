"""Mendeley "Lumbar Spine MRI Dataset" (Sudirman et al., doi 10.17632/k57fr854j2.2, CC BY 4.0).

Layout read::

    ROOT/01_MRI_Data/<patient>/<study>/T2_TSE_SAG_*/*.ima
    ROOT/01_MRI_Data/<patient>/<study>/T2_TSE_TRA_*/*.ima
    ROOT/Label_Images/L1_<patient>_D<3|4|5>.png     (also accepted one folder further down)

Label image values: 50 disc (IVD), 100 posterior element, 150 thecal sac, 200 AAP, 250 background.
D3/D4/D5 are the last three discs: L3-L4, L4-L5, L5-S1.

Which axial slice a label image belongs to: ``Label_Images/slices.csv`` (columns
``patient,disc,file`` with ``file`` relative to ROOT) when present; otherwise a heuristic: the
patient's T2 TSE TRA slices (all TRA series of the first study, by InstanceNumber) are cut into three
consecutive blocks (top to bottom: D3, D4, D5; the data set's description says slices go per disc,
top to bottom) and the middle slice of block k is taken. The data set carries no herniation grades,
so only axial segmentation records come out of it. DICOM pixels go to 8 bits with the same
0.5..99.5 percentile window as the pipeline.
"""

from __future__ import annotations

import csv
import glob
import os
import re

import numpy as np

from training.datasets.common import Record

SOURCE = "mendeley"
CITATION = 'S. Sudirman et al., "Lumbar Spine MRI Dataset", Mendeley Data, V2, doi 10.17632/k57fr854j2.2, CC BY 4.0'
DISC_LEVEL_VALUE = {3: 4, 4: 5, 5: 6}  # D3 -> L3-L4, D4 -> L4-L5, D5 -> L5-S1
LABEL_RE = re.compile(r"^L\d+_(?P<patient>.+)_D(?P<disc>[345])\.png$", re.IGNORECASE)
MASK_VALUES = {"disc": 50, "posterior_element": 100, "thecal_sac": 150, "aap": 200, "background": 250}


def is_mendeley(root: str) -> bool:
    return os.path.isdir(os.path.join(root, "01_MRI_Data"))


def _label_dir(root: str) -> str | None:
    for cand in [os.path.join(root, "Label_Images")] + glob.glob(os.path.join(root, "*", "Label_Images")):
        if os.path.isdir(cand):
            return cand
    return None


def _instance_number(path: str) -> tuple[int, str]:
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return int(getattr(ds, "InstanceNumber", 0) or 0), path


def tra_slices(root: str, patient: str) -> list[str]:
    pdir = os.path.join(root, "01_MRI_Data", patient)
    studies = sorted(d for d in os.listdir(pdir) if os.path.isdir(os.path.join(pdir, d))) if os.path.isdir(pdir) else []
    for study in studies:
        files = []
        for series in sorted(glob.glob(os.path.join(pdir, study, "T2_TSE_TRA*"))):
            files += glob.glob(os.path.join(series, "*.ima")) + glob.glob(os.path.join(series, "*.IMA"))
        if files:
            return [p for _, p in sorted(_instance_number(f) for f in files)]
    return []


def _slice_map(label_dir: str, root: str) -> dict[tuple[str, int], str]:
    path = os.path.join(label_dir, "slices.csv")
    out = {}
    if os.path.isfile(path):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                out[(row["patient"].strip(), int(row["disc"]))] = os.path.join(root, row["file"].strip())
    return out


def load(root: str, task: str, view: str = "axial") -> list[Record]:
    if task != "segmentation" or view != "axial":
        return []
    label_dir = _label_dir(root)
    if label_dir is None:
        return []
    mapping = _slice_map(label_dir, root)
    cache: dict[str, list[str]] = {}
    out: list[Record] = []
    for name in sorted(os.listdir(label_dir)):
        m = LABEL_RE.match(name)
        if not m:
            continue
        patient, disc = m.group("patient"), int(m.group("disc"))
        path = mapping.get((patient, disc))
        rule = "slices.csv"
        if path is None:
            if patient not in cache:
                cache[patient] = tra_slices(root, patient)
            slices = cache[patient]
            if len(slices) < 3:
                continue
            block = np.array_split(np.arange(len(slices)), 3)[disc - 3]
            path = slices[int(block[len(block) // 2])]
            rule = "middle-of-block"
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True)
        out.append(
            Record(
                sample_id=f"{SOURCE}:{patient}_D{disc}",
                patient_id=f"{SOURCE}:{patient}",
                source=SOURCE,
                view="axial",
                image_path=path,
                image_reader="dicom",
                mask_path=os.path.join(label_dir, name),
                mask_kind="mendeley",
                meta={
                    "level_value": DISC_LEVEL_VALUE[disc],
                    "image_shape": (int(ds.Rows), int(ds.Columns)),
                    "slice_rule": rule,
                },
            )
        )
    return out
