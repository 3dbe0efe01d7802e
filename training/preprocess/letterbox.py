"""The U-Nets' square canvas: letterbox an image (aspect kept, zero padding) and bring masks / probabilities back
to the image's own size. TypeScript twin: ``packages/imaging/src/letterbox.ts``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.preprocess.resize import resize_bilinear_float, resize_bilinear_u8, resize_nearest

SEG_SIZE = 256


@dataclass(frozen=True)
class Letterbox:
    """Where an image of ``rows x cols`` lies inside the square ``size x size`` canvas."""

    rows: int
    cols: int
    size: int
    new_rows: int
    new_cols: int
    top: int
    left: int


def letterbox_geometry(rows: int, cols: int, size: int = SEG_SIZE) -> Letterbox:
    """m = max(rows, cols); new_rows = max(1, (rows*size + m//2) // m), new_cols likewise;
    top = (size - new_rows) // 2; left = (size - new_cols) // 2."""
    m = max(rows, cols)
    nr = max(1, (rows * size + m // 2) // m)
    nc = max(1, (cols * size + m // 2) // m)
    return Letterbox(rows, cols, size, nr, nc, (size - nr) // 2, (size - nc) // 2)


def letterbox(img: np.ndarray, size: int = SEG_SIZE, nearest: bool = False) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio (bilinear for images, nearest for label maps) and pad with 0."""
    g = letterbox_geometry(img.shape[0], img.shape[1], size)
    if nearest:
        r = resize_nearest(img, g.new_rows, g.new_cols)
    else:
        r = resize_bilinear_u8(img, g.new_rows, g.new_cols)
    out = np.zeros((size, size), dtype=img.dtype)
    out[g.top : g.top + g.new_rows, g.left : g.left + g.new_cols] = r
    return out, g


def unletterbox_mask(mask: np.ndarray, g: Letterbox) -> np.ndarray:
    """Inverse of :func:`letterbox` for a label map: cut the image area out, nearest-resize back."""
    inner = mask[g.top : g.top + g.new_rows, g.left : g.left + g.new_cols]
    return resize_nearest(inner, g.rows, g.cols)


def letterbox_mask_smooth(mask: np.ndarray, size: int = SEG_SIZE) -> tuple[np.ndarray, Letterbox]:
    """Letterbox a 0/1 mask without the staircase of nearest resizing: the 0/1 map is resized with
    :func:`resize_bilinear_float` and kept where the result is >= 0.5 (``--smooth-masks``)."""
    g = letterbox_geometry(mask.shape[0], mask.shape[1], size)
    r = resize_bilinear_float((mask > 0).astype(np.float64), g.new_rows, g.new_cols) >= 0.5
    out = np.zeros((size, size), dtype=np.uint8)
    out[g.top : g.top + g.new_rows, g.left : g.left + g.new_cols] = r
    return out, g


def unletterbox_prob(prob: np.ndarray, g: Letterbox) -> np.ndarray:
    """Probabilities on the letterbox canvas -> probabilities at the image's own rows x cols: cut the image
    area out and resize it with :func:`resize_bilinear_float` (card ``output.upsample`` = ``bilinear-probability``;
    the mask is then probability > threshold)."""
    inner = prob[g.top : g.top + g.new_rows, g.left : g.left + g.new_cols]
    return resize_bilinear_float(inner, g.rows, g.cols)


def prob_to_mask(prob: np.ndarray, g: Letterbox, upsample: str = "nearest-mask", threshold: float = 0.5) -> np.ndarray:
    """A U-Net's probabilities on the letterbox canvas -> uint8 0/1 mask at the image's size, as the model card's
    ``output.upsample`` says: ``nearest-mask`` (threshold, then nearest-resize the mask; cards without the key)
    or ``bilinear-probability`` (bilinear-resize the probabilities, then threshold)."""
    if upsample == "bilinear-probability":
        return (unletterbox_prob(prob, g) > threshold).astype(np.uint8)
    if upsample != "nearest-mask":
        raise ValueError(f"unknown output.upsample {upsample!r}")
    return unletterbox_mask((prob > threshold).astype(np.uint8), g)
