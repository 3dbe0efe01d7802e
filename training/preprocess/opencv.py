"""What training calls OpenCV for that has a TypeScript counterpart: CLAHE (``cv2.createCLAHE``).
TypeScript twin: ``packages/imaging/src/opencv.ts`` (OpenCV.js)."""

from __future__ import annotations

import cv2
import numpy as np

from training.preprocess.clahe import CLAHE_CLIP_LIMIT, CLAHE_TILES


def clahe(img: np.ndarray, clip_limit: float = CLAHE_CLIP_LIMIT, tiles: tuple[int, int] = CLAHE_TILES) -> np.ndarray:
    """OpenCV CLAHE (what training uses); see :func:`clahe_reference` for the arithmetic."""
    return cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=tiles).apply(np.ascontiguousarray(img, dtype=np.uint8))
