"""Records shared by every data set loader."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

from training import preprocess as P

SAGITTAL_CLASSES = ("healthy", "L4-L5", "L5-S1")
AXIAL_CLASSES = ("healthy", "bulge", "central", "left", "right")
AXIAL_CLASSES_NO_BULGE = ("healthy", "central", "left", "right")
# Disc level label values (phantom masks, DATASET-LAYOUT.md); index = value - 1.
LEVELS = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
HERNIATED = ("central", "left", "right")


def classes_for(view: str, drop_bulge: bool = False) -> tuple[str, ...]:
    if view == "sagittal":
        return SAGITTAL_CLASSES
    if view == "axial":
        return AXIAL_CLASSES_NO_BULGE if drop_bulge else AXIAL_CLASSES
    raise ValueError(f"unknown view {view!r}")


def sagittal_class(l4l5_herniated: bool, l5s1_herniated: bool, both: str = "drop") -> int | None:
    """Paper's sagittal classes from the two lowest levels. ``both``: 'drop' (None), 'l4l5', 'l5s1'."""
    if l4l5_herniated and l5s1_herniated:
        return {"drop": None, "l4l5": 1, "l5s1": 2}[both]
    if l4l5_herniated:
        return 1
    if l5s1_herniated:
        return 2
    return 0


def read_grey(path: str) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(path)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if img.dtype != np.uint8:
        img = P.to_uint8(img)
    return img


def read_dicom_uint8(path: str) -> np.ndarray:
    import pydicom

    ds = pydicom.dcmread(str(path))
    arr = ds.pixel_array.astype(np.float64)
    slope = float(getattr(ds, "RescaleSlope", 1) or 1)
    inter = float(getattr(ds, "RescaleIntercept", 0) or 0)
    arr = arr * slope + inter
    if getattr(ds, "PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
        arr = arr.max() - arr
    return P.to_uint8(arr)


@dataclass
class Record:
    """One image of a data set, with what we know about it.

    ``mask_kind`` says how to read the mask file: 'phantom' (0 bg, 1..6 disc levels),
    'spider' (2 = disc), 'mendeley' (50 = disc; ``meta['level']`` gives its level value).
    """

    sample_id: str
    patient_id: str  # namespaced: "spider:107", "phantom:P0003", "mendeley:0001"
    source: str
    view: str
    image_path: str
    image_reader: str = "png"  # 'png' | 'dicom'
    mask_path: str | None = None
    mask_kind: str | None = None
    label: int | None = None
    meta: dict = field(default_factory=dict)

    def image(self) -> np.ndarray:
        if self.image_reader == "dicom":
            return read_dicom_uint8(self.image_path)
        return read_grey(self.image_path)

    def _raw_mask(self) -> np.ndarray:
        m = cv2.imread(str(self.mask_path), cv2.IMREAD_UNCHANGED)
        if m is None:
            raise FileNotFoundError(self.mask_path)
        if m.ndim == 3:
            m = m[..., 0]
        return m

    def _fit(self, m: np.ndarray) -> np.ndarray:
        shape = self.meta.get("image_shape")
        if shape is not None and tuple(m.shape[:2]) != tuple(shape):
            m = P.resize_nearest(m, shape[0], shape[1])
        return m

    def disc_mask(self) -> np.ndarray | None:
        """uint8 0/1 disc mask at the image's size, or None when the record has no mask."""
        if self.mask_path is None:
            return None
        m = self._raw_mask()
        if self.mask_kind == "spider":
            d = m == 2
        elif self.mask_kind == "mendeley":
            d = m == 50
        else:
            d = m > 0
        return self._fit(d.astype(np.uint8))

    def level_map(self) -> np.ndarray | None:
        """uint8 map 0 = background/unknown, 1..6 = disc level (LEVELS[value-1])."""
        if self.mask_path is None:
            return None
        m = self._raw_mask()
        if self.mask_kind == "phantom":
            out = np.where((m >= 1) & (m <= 6), m, 0).astype(np.uint8)
        elif self.mask_kind == "spider":
            k = P.levels_from_bottom(m == 2)  # 1 = lowest disc = L5-S1 (normally)
            out = np.where((k >= 1) & (k <= 6), 7 - k.astype(np.int16), 0).astype(np.uint8)
        elif self.mask_kind == "mendeley":
            out = ((m == 50) * int(self.meta.get("level_value", 0))).astype(np.uint8)
        else:
            out = (m > 0).astype(np.uint8)
        return self._fit(out)


def patient_strata(records: list[Record]) -> dict[str, str]:
    """Per patient: '<source>:<most common label>' (ties -> smallest label), for stratified splits."""
    by: dict[str, Counter] = {}
    src: dict[str, str] = {}
    for r in records:
        by.setdefault(r.patient_id, Counter())[r.label if r.label is not None else -1] += 1
        src[r.patient_id] = r.source
    out = {}
    for p, c in by.items():
        top = max(c.values())
        out[p] = f"{src[p]}:{min(k for k, v in c.items() if v == top)}"
    return out
