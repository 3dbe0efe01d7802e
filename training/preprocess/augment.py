"""Training-time augmentation (flip with the axial left/right swap, brightness; for segmentation optionally a
similarity transform and gamma). No TypeScript twin: the node never augments."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def hflip(img: np.ndarray) -> np.ndarray:
    """Mirror along the vertical axis (left <-> right of the image)."""
    return np.ascontiguousarray(img[..., ::-1])


def flip_label(label: int, classes: list[str] | tuple[str, ...], view: str) -> int:
    """Class index after a horizontal flip: on axial images 'left' and 'right' (the patient's sides)
    swap; on sagittal images nothing changes."""
    if view != "axial":
        return label
    name = classes[label]
    if name == "left" and "right" in classes:
        return list(classes).index("right")
    if name == "right" and "left" in classes:
        return list(classes).index("left")
    return label


def adjust_brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """Paper: brightness via HSV, S and V multiplied by a factor. For grey images S = 0 and V is the
    grey level, so this is round(v * factor) clamped to 0..255."""
    return np.clip(np.floor(img.astype(np.float64) * factor + 0.5), 0, 255).astype(np.uint8)


@dataclass
class Augment:
    """Training-time augmentation (never applied to validation/test data)."""

    flip_p: float = 0.5
    brightness: tuple[float, float] = (0.8, 1.2)
    # beyond the paper (``--augment-extra``, segmentation only): random similarity transform (scale, rotation,
    # shift as a fraction of the size) and gamma, applied with probability ``extra_p``
    extra: bool = False
    extra_p: float = 0.8
    scale: tuple[float, float] = (0.85, 1.15)
    rotation_deg: float = 12.0
    shift: float = 0.06
    gamma: tuple[float, float] = (0.7, 1.5)

    def classification(self, crop: np.ndarray, label: int, classes, view: str, rng: np.random.Generator):
        if rng.random() < self.flip_p:
            crop = hflip(crop)
            label = flip_label(label, classes, view)
        f = rng.uniform(*self.brightness)
        return adjust_brightness(crop, f), label

    def segmentation(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
        if rng.random() < self.flip_p:
            image, mask = hflip(image), hflip(mask)
        if self.extra and rng.random() < self.extra_p:
            image, mask = self._similarity(image, mask, rng)
            g = float(np.exp(rng.uniform(np.log(self.gamma[0]), np.log(self.gamma[1]))))
            lut = np.clip(np.floor(255.0 * (np.arange(256) / 255.0) ** g + 0.5), 0, 255).astype(np.uint8)
            image = lut[image]
        f = rng.uniform(*self.brightness)
        return adjust_brightness(image, f), mask

    def _similarity(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
        """Scale, rotate and shift about the centre: bilinear for the image, nearest for the mask (labels stay
        labels); what comes in from outside is black / background."""
        h, w = image.shape[-2:]
        m = cv2.getRotationMatrix2D(
            ((w - 1) / 2, (h - 1) / 2), rng.uniform(-self.rotation_deg, self.rotation_deg), rng.uniform(*self.scale)
        )
        m[:, 2] += rng.uniform(-self.shift, self.shift, 2) * (w, h)

        def warp(a, interp):
            return cv2.warpAffine(
                np.ascontiguousarray(a), m, (w, h), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0
            )

        image = warp(image, cv2.INTER_LINEAR)
        if mask.ndim == 3:
            mask = np.stack([warp(c, cv2.INTER_NEAREST) for c in mask])
        else:
            mask = warp(mask, cv2.INTER_NEAREST)
        return image, mask
