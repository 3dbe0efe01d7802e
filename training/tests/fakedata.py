"""Tiny fake data trees in the phantom, SPIDER and Mendeley layouts, and the helpers that train on them (tests only)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import cv2
import numpy as np

SAG_LEVEL_CLASSES = [  # (L4-L5, L5-S1) per patient, cycling: healthy, L4-L5, L5-S1, healthy+bulge, both
    ("healthy", "healthy"),
    ("left", "healthy"),
    ("healthy", "central"),
    ("bulge", "healthy"),
    ("right", "left"),
]
AXIAL_CYCLE = ["healthy", "bulge", "central", "left", "right"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _noise(rng, h, w, base=40):
    return np.clip(rng.normal(base, 12, (h, w)), 0, 255)


def sagittal_image(rng, h=64, w=64, n_discs=6):
    """Bright horizontal ellipses stacked from top (T12-L1 = 1) to bottom (L5-S1 = 6)."""
    img = _noise(rng, h, w)
    mask = np.zeros((h, w), np.uint8)
    top = h // 8
    step = (h - 2 * top) // n_discs
    for k in range(n_discs):
        cy = top + step * k + step // 2
        cx = w // 2 + int(rng.integers(-2, 3))
        cv2.ellipse(mask, (cx, cy), (w // 6, max(1, step // 4)), 0, 0, 360, k + 1, -1)
    img[mask > 0] = 200
    return np.clip(img, 0, 255).astype(np.uint8), mask


def axial_image(rng, cls: str, level_value: int, h=64, w=64):
    img = _noise(rng, h, w)
    mask = np.zeros((h, w), np.uint8)
    cx, cy = w // 2, h // 2
    cv2.ellipse(mask, (cx, cy), (w // 5, h // 7), 0, 0, 360, level_value, -1)
    # herniation bump posterior (down); patient's left = image right
    dx = {"left": w // 8, "right": -w // 8, "central": 0}.get(cls)
    if dx is not None:
        cv2.circle(mask, (cx + dx, cy + h // 7), max(2, w // 20), level_value, -1)
    if cls == "bulge":
        cv2.ellipse(mask, (cx, cy), (w // 5 + 2, h // 7 + 2), 0, 0, 360, level_value, -1)
    img[mask > 0] = 180
    return np.clip(img, 0, 255).astype(np.uint8), mask


def make_phantom(root: str, n_patients: int = 10, per_view: int = 2, size: int = 64, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    os.makedirs(os.path.join(root, "masks"), exist_ok=True)
    levels = ["T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"]
    samples, labels, truth = [], [], {}

    def write(name, img, mask, ids, level):
        """The image and mask PNGs of a sample and its samples.csv row (``ids``: patient to slice index)."""
        cv2.imwrite(os.path.join(root, "images", name + ".png"), img)
        cv2.imwrite(os.path.join(root, "masks", name + ".png"), mask)
        samples.append([name, *ids, f"images/{name}.png", f"masks/{name}.png", size, size, 1.0, level])

    for p in range(n_patients):
        pid = f"P{p:04d}"
        l45, l51 = SAG_LEVEL_CLASSES[p % len(SAG_LEVEL_CLASSES)]
        ax_cls = AXIAL_CYCLE[p % len(AXIAL_CYCLE)]
        level_cls = {lv: "healthy" for lv in levels}
        level_cls["L4-L5"], level_cls["L5-S1"] = l45, l51
        truth[pid] = level_cls
        for s in range(per_view):
            name = f"{pid}_sag_T2_{s:02d}"
            img, mask = sagittal_image(rng, size, size)
            write(name, img, mask, [pid, f"1.2.{p}", "sagittal", "T2", s], "")
            for v in np.unique(mask[mask > 0]):
                labels.append([name, pid, "sagittal", levels[v - 1], int(v), level_cls[levels[v - 1]]])
        for s in range(per_view):
            name = f"{pid}_ax_T2_{s:02d}"
            level = "L4-L5" if s % 2 == 0 else "L5-S1"
            cls = ax_cls  # (fake data: axial classes cycle independently of the sagittal ones)
            img, mask = axial_image(rng, cls, levels.index(level) + 1, size, size)
            write(name, img, mask, [pid, f"1.2.{p}", "axial", "T2ax", s], level)
            labels.append([name, pid, "axial", level, levels.index(level) + 1, cls])
    with open(os.path.join(root, "samples.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            "sample,patient_id,study_uid,view,series,slice_index,image,mask,rows,cols,pixel_spacing_mm,level".split(",")
        )
        w.writerows(samples)
    with open(os.path.join(root, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow("sample,patient_id,view,level,mask_value,class".split(","))
        w.writerows(labels)
    with open(os.path.join(root, "dataset.json"), "w") as f:
        json.dump({"generator": "fake-phantom (tests)", "version": "0", "seed": seed, "studies": n_patients}, f)
    with open(os.path.join(root, "truth.json"), "w") as f:
        json.dump(truth, f)
    return root


def make_spider(root: str, n_patients: int = 8, slices: int = 2, seed: int = 1) -> str:
    """t2_space (images + masks 0/1/2/3), sagittal_t2 (no masks), radiological_gradings.csv."""
    rng = np.random.default_rng(seed)
    for d in ("t2_space/images", "t2_space/masks", "sagittal_t2"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    rows = []
    for i in range(n_patients):
        p = str(100 + i)
        for s in range(slices):
            img, lv = sagittal_image(rng, 80, 64, n_discs=5)
            mask = np.where(lv > 0, 2, 0).astype(np.uint8)
            mask[(lv == 0) & (np.arange(80)[:, None] % 13 < 6)] = 1  # "vertebrae"
            mask[:, 50:53] = 3
            name = f"{p}_t2_SPACE_slice{10 + s}.png"
            cv2.imwrite(os.path.join(root, "t2_space/images", name), img)
            cv2.imwrite(os.path.join(root, "t2_space/masks", name), mask)
        img, _ = sagittal_image(rng, 96, 72, n_discs=5)
        cv2.imwrite(os.path.join(root, "sagittal_t2", f"{p}_t2.png"), img)
        if i % 3 == 0:
            cv2.imwrite(os.path.join(root, "sagittal_t2", f"{p}_t2_SPACE.png"), img)
        pattern = [(0, 0), (1, 0), (0, 1), (1, 1)][i % 4]  # (IVD1 = L5-S1, IVD2 = L4-L5)
        for ivd in range(1, 6):
            hern = pattern[0] if ivd == 1 else pattern[1] if ivd == 2 else 0
            rows.append([p, ivd, 0, 0, 0, 0, hern, 0, 1, 3])
    with open(os.path.join(root, "radiological_gradings.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "Patient",
                "IVD label",
                "Modic",
                "UP endplate",
                "LOW endplate",
                "Spondylolisthesis",
                "Disc herniation",
                "Disc narrowing",
                "Disc bulging",
                "Pfirrman grade",
            ]
        )
        w.writerows(rows)
    return root


def write_dicom(path: str, pixels: np.ndarray, instance: int, series_desc: str) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.SeriesDescription = series_desc
    ds.InstanceNumber = instance
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype("<u2").tobytes()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def make_mendeley(root: str, patients=("0001", "0002"), size: int = 32, seed: int = 2) -> str:
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "Label_Images"), exist_ok=True)
    for p in patients:
        study = os.path.join(root, "01_MRI_Data", p, "L-SPINE_LSS_20160309_091629_240000")
        for k in range(6):  # 2 slices per disc D3, D4, D5, top to bottom
            px = rng.integers(0, 4096, (size, size)).astype(np.uint16)
            px[size // 3 : 2 * size // 3, size // 4 : 3 * size // 4] = 3000 + 100 * k
            # written in reverse file order to check sorting by InstanceNumber
            write_dicom(
                os.path.join(study, "T2_TSE_TRA_0004", f"{p}_T2_TSE_TRA_{5 - k:04d}.ima"), px, k + 1, "T2_TSE_TRA"
            )
        for k in range(3):
            write_dicom(
                os.path.join(study, "T2_TSE_SAG_0003", f"{p}_T2_TSE_SAG_{k:04d}.ima"),
                rng.integers(0, 4096, (size, size)).astype(np.uint16),
                k + 1,
                "T2_TSE_SAG",
            )
        for d in (3, 4, 5):
            lab = np.full((size, size), 250, np.uint8)
            lab[size // 3 : 2 * size // 3, size // 4 : 3 * size // 4] = 50
            lab[2 * size // 3 :, size // 3 : 2 * size // 3] = 100
            lab[2 * size // 3 : 2 * size // 3 + 3, :4] = 150
            lab[:3, :] = 200
            cv2.imwrite(os.path.join(root, "Label_Images", f"L1_{p}_D{d}.png"), lab)
    return root


def flags(**options) -> list[str]:
    """Command-line options from keyword arguments, in their order: ``max_steps=3`` gives ``--max-steps 3``, a list
    repeats the option (``data=[a, b]`` gives ``--data a --data b``)."""
    argv: list[str] = []
    for name, value in options.items():
        for v in value if isinstance(value, list) else [value]:
            argv += [f"--{name.replace('_', '-')}", str(v)]
    return argv


def tiny_axial(task: str, data: list[str], out: str, **options):
    """The TrainConfig of a tiny axial run (one epoch, batches of 4, no progress bars or plots): for classification
    2 steps at LR 1e-3, for segmentation 1 step of a [4, 8] U-Net on 32-pixel images; ``options`` override."""
    from training.engine import TrainConfig

    if task == "classification":
        tiny = dict(max_steps=2, lr=1e-3)
    else:
        tiny = dict(max_steps=1, seg_size=32, filters=[4, 8])
    base = dict(epochs=1, batch_size=4, progress=False, plots=False)
    return TrainConfig(task=task, view="axial", data=data, out=out, **{**base, **tiny, **options})


def disc_everywhere(run: str, dest: str | None = None) -> str:
    """Makes the U-Net of ``run`` call every pixel disc (head bias 50: its crops are whole images) and saves its
    checkpoint in ``dest`` (default: in place); returns that folder."""
    import torch

    from training.inference import load_checkpoint

    ck = load_checkpoint(run)
    ck["state_dict"]["head.bias"] = torch.full_like(ck["state_dict"]["head.bias"], 50.0)
    dest = dest or run
    os.makedirs(dest, exist_ok=True)
    torch.save(ck, os.path.join(dest, "checkpoint.pt"))
    return dest


def run_json(*args: str, module: str = "training", env: dict[str, str] | None = None) -> dict:
    """Runs ``python -m MODULE ARGS`` in a child process from the repository root (with PYTHONPATH set to it and
    ``env`` added) and returns the JSON it prints last on stdout; raises CalledProcessError when it fails."""
    r = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT, **(env or {})),
        check=True,
    )
    return json.loads(r.stdout.strip().splitlines()[-1])
