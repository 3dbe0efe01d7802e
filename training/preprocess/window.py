"""16 bits -> 8 bits: the 0.5th..99.5th percentile window. TypeScript twin: ``packages/imaging/src/window.ts``."""

from __future__ import annotations

import math

import numpy as np


def _js_round(values: np.ndarray) -> np.ndarray:
    """JavaScript ``Math.round``: round half up (towards +infinity)."""
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5)


def percentile_window(values: np.ndarray, low: float = 0.5, high: float = 99.5) -> tuple[int, int]:
    """lo = smallest v with count(values <= v) >= ceil(low/100 * n), hi likewise with ``high``.

    Values are rounded with JS ``Math.round`` first (DICOM stored values are integers anyway).
    """
    v = _js_round(np.asarray(values).ravel()).astype(np.int64)
    n = v.size
    if n == 0:
        return 0, 0
    vmin = int(v.min())
    hist = np.bincount(v - vmin)
    acc = np.cumsum(hist)
    rank_lo = max(1, math.ceil((low / 100) * n))
    rank_hi = max(1, math.ceil((high / 100) * n))
    lo = int(np.searchsorted(acc, rank_lo, side="left")) + vmin
    hi = int(np.searchsorted(acc, rank_hi, side="left")) + vmin
    return lo, hi


def to_uint8(values: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """y = floor((round(v) - lo) * 255 / (hi - lo) + 0.5) clamped to 0..255 (0 everywhere if hi <= lo).

    Same shape as the input, dtype uint8. Float64 arithmetic in the same order as window.ts.
    """
    arr = np.asarray(values)
    lo, hi = percentile_window(arr, low, high)
    rng = hi - lo
    if rng <= 0:
        return np.zeros(arr.shape, dtype=np.uint8)
    v = _js_round(arr)
    y = np.floor(((v - lo) * 255) / rng + 0.5)
    return np.clip(y, 0, 255).astype(np.uint8)
