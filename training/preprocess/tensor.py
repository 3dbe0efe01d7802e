"""uint8 image -> float32 tensor (/ 255, grey replicated to every channel).
TypeScript twin: ``packages/imaging/src/tensor.ts``."""

from __future__ import annotations

import numpy as np


def crop_to_input(crop: np.ndarray, channels: int = 3) -> np.ndarray:
    """uint8 HxW -> float32 (channels, H, W) = crop / 255, grey replicated to every channel."""
    x = crop.astype(np.float32) / np.float32(255.0)
    return np.repeat(x[None, :, :], channels, axis=0)
