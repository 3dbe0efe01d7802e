"""From records to tensors: letterboxed segmentation arrays, classifier crops, torch Datasets."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from training import preprocess as P
from training.datasets.common import LEVELS, Record


def seg_classes(levels: bool) -> list[str]:
    return ["disc", *LEVELS] if levels else ["disc"]


def seg_arrays(
    records: list[Record],
    size: int = P.SEG_SIZE,
    levels: bool = False,
    progress: bool = True,
    desc: str = "load",
    smooth: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, S, S) and uint8 targets (N, C, S, S): channel 0 = disc, channels 1..6 = the
    disc levels LEVELS[0..5] when ``levels``. ``smooth``: masks letterboxed with
    :func:`preprocess.letterbox_mask_smooth` instead of nearest resizing."""
    mask_lb = (lambda m: P.letterbox_mask_smooth(m, size)) if smooth else (lambda m: P.letterbox(m, size, nearest=True))
    n = len(records)
    c = 1 + (len(LEVELS) if levels else 0)
    images = np.zeros((n, size, size), dtype=np.uint8)
    targets = np.zeros((n, c, size, size), dtype=np.uint8)
    for i, r in enumerate(tqdm(records, desc=desc, disable=not progress, leave=False)):
        img = r.image()
        images[i], _ = P.letterbox(img, size)
        disc = r.disc_mask()
        targets[i, 0], _ = mask_lb(disc)
        if levels:
            lv = r.level_map()
            for k in range(1, len(LEVELS) + 1):
                targets[i, k], _ = mask_lb((lv == k).astype(np.uint8))
    return images, targets


def build_crops(
    records: list[Record],
    view: str,
    predictor: Callable[[np.ndarray], np.ndarray] | None = None,
    progress: bool = True,
    desc: str = "crops",
) -> dict:
    """Classifier crops (N, 64, 64) uint8 after CLAHE, with labels and patients. A record without
    a mask is segmented by ``predictor`` (image -> binary disc mask of the same size); records
    where no disc is found are skipped and listed."""
    crops, labels, patients, ids, skipped, mask_source = [], [], [], [], [], []
    for r in tqdm(records, desc=desc, disable=not progress, leave=False):
        img = r.image()
        mask = r.disc_mask()
        src = "ground-truth"
        if mask is None:
            if predictor is None:
                raise ValueError(f"{r.sample_id} has no mask: pass a segmentation model (--seg-model)")
            mask = predictor(img)
            src = "predicted"
        crop = P.crop_disc(img, mask, view)
        if crop is None:
            skipped.append(r.sample_id)
            continue
        crops.append(crop)
        labels.append(-1 if r.label is None else r.label)
        patients.append(r.patient_id)
        ids.append(r.sample_id)
        mask_source.append(src)
    return {
        "crops": np.stack(crops) if crops else np.zeros((0, P.CROP_SIZE, P.CROP_SIZE), np.uint8),
        "labels": np.asarray(labels, dtype=np.int64),
        "patients": patients,
        "ids": ids,
        "skipped": skipped,
        "mask_source": mask_source,
    }


class SegDataset(Dataset):
    """Letterboxed images and targets; ``crop``: a random ``crop`` x ``crop`` window of each (augmented) image
    (training on crops of a larger letterbox, ``--crop-size``)."""

    def __init__(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        augment: P.Augment | None = None,
        seed: int = 0,
        crop: int | None = None,
    ):
        self.images, self.targets, self.augment = images, targets, augment
        self.rng = np.random.default_rng(seed)
        self.crop = crop if crop and images.ndim == 3 and crop < images.shape[-1] else None

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img, tgt = self.images[i], self.targets[i]
        if self.augment is not None:
            img, tgt = self.augment.segmentation(img, tgt, self.rng)
        if self.crop:
            h, w = img.shape[-2:]
            y, x = int(self.rng.integers(0, h - self.crop + 1)), int(self.rng.integers(0, w - self.crop + 1))
            img, tgt = img[y : y + self.crop, x : x + self.crop], tgt[..., y : y + self.crop, x : x + self.crop]
        x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32) / 255.0)[None]
        y = torch.from_numpy(np.ascontiguousarray(tgt, dtype=np.float32))
        return x, y


class CropDataset(Dataset):
    def __init__(
        self,
        crops: np.ndarray,
        labels: np.ndarray,
        classes,
        view: str,
        augment: P.Augment | None = None,
        seed: int = 0,
        channels: int = 3,
    ):
        self.crops, self.labels, self.classes, self.view = crops, labels, list(classes), view
        self.augment, self.channels = augment, channels
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.crops)

    def __getitem__(self, i):
        crop, label = self.crops[i], int(self.labels[i])
        if self.augment is not None:
            crop, label = self.augment.classification(crop, label, self.classes, self.view, self.rng)
        return torch.from_numpy(P.crop_to_input(crop, self.channels)), torch.tensor(label, dtype=torch.long)
