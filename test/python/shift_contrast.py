"""Gives a folder of phantom studies another site's contrast, in place: every DICOM file's pixels are rewritten.

Usage: training/.venv/bin/python test/python/shift_contrast.py DIR [--gamma G] [--scale S] [--noise SIGMA]
       [--seed N]

Each stored value v (of an image whose largest value is M) becomes
    scale * M * (v / M) ** gamma  +  N(0, noise * M)
clipped to 0..65535 and rounded. The percentile window of the pipeline undoes a plain intensity scale, so the
gamma (a different T2 weighting: fluid and disc against muscle and fat) and the noise are what the models see.
UIDs, geometry and every other attribute are kept (test/integration/finetune.test.ts: a site whose contrast differs
from the training phantom's). Files that are not DICOM (the phantom's mask PNGs, truth.json) are left alone.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError


def shift(a: np.ndarray, gamma: float, scale: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    m = float(a.max()) or 1.0
    x = a.astype(np.float64) / m
    y = scale * m * np.power(x, gamma) + rng.normal(0.0, noise * m, a.shape)
    return np.clip(np.rint(y), 0, 65535).astype(np.uint16)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--gamma", type=float, default=2.0)
    ap.add_argument("--scale", type=float, default=3.0)
    ap.add_argument("--noise", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    n = 0
    for root, dirs, files in os.walk(a.dir):
        dirs.sort()
        for name in sorted(files):
            if not name.lower().endswith(".dcm"):
                continue
            path = os.path.join(root, name)
            try:
                ds = pydicom.dcmread(path)
            except InvalidDicomError:
                continue
            if "PixelData" not in ds or ds.BitsAllocated != 16 or ds.get("SamplesPerPixel", 1) != 1:
                continue
            ds.PixelRepresentation = 0
            ds.BitsStored, ds.HighBit = 16, 15
            ds.PixelData = shift(ds.pixel_array, a.gamma, a.scale, a.noise, rng).tobytes()
            for k in ("WindowCenter", "WindowWidth", "SmallestImagePixelValue", "LargestImagePixelValue"):
                if k in ds:
                    del ds[k]
            ds.save_as(path)
            n += 1
    print(f"shifted the contrast of {n} DICOM files under {a.dir}")
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
