"""The classifiers' input (disc box -> 64x64 resize -> CLAHE) and the U-Nets' input (letterbox / 255).
TypeScript twin: ``packages/imaging/src/classifierInput.ts``."""

from __future__ import annotations

import numpy as np

from training.preprocess.discs import disc_bbox
from training.preprocess.letterbox import SEG_SIZE, Letterbox, letterbox
from training.preprocess.opencv import clahe
from training.preprocess.resize import resize_bilinear_u8

CROP_SIZE = 64


def crop_disc(
    image: np.ndarray, disc_mask: np.ndarray, view: str, size: int = CROP_SIZE, use_clahe: bool = True
) -> np.ndarray | None:
    """8-bit image + disc mask of the same size -> uint8 ``size x size`` enhanced crop, or None."""
    if image.shape[:2] != disc_mask.shape[:2]:
        raise ValueError(f"image {image.shape} and mask {disc_mask.shape} differ in size")
    box = disc_bbox(disc_mask, view)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    crop = resize_bilinear_u8(np.ascontiguousarray(image[y0 : y1 + 1, x0 : x1 + 1]), size, size)
    return clahe(crop) if use_clahe else crop


def seg_input(image: np.ndarray, size: int = SEG_SIZE) -> tuple[np.ndarray, Letterbox]:
    """uint8 image -> float32 (1, size, size) letterboxed / 255, and its geometry."""
    lb, g = letterbox(image, size)
    return (lb.astype(np.float32) / np.float32(255.0))[None], g
