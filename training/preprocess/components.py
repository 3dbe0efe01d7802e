"""One 8-connected component of a binary mask, as ``cv2.connectedComponentsWithStats`` reports it (the labelling
itself is OpenCV's here: :func:`training.preprocess.discs.disc_components`).
TypeScript twin: ``packages/imaging/src/components.ts``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    label: int
    area: int
    x0: int
    y0: int
    x1: int  # inclusive
    y1: int  # inclusive
    cy: float  # mean row index
