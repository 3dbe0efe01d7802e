"""Disc components (size filter), the ones a view's classifier crop is built around, and the crop's box (+10 %).
TypeScript twin: ``packages/imaging/src/discs.ts``."""

from __future__ import annotations

import cv2
import numpy as np

from training.preprocess.components import Component

BBOX_MARGIN_PERCENT_EACH_SIDE = 5
MIN_COMPONENT_FRACTION = 10  # keep components with area * 10 >= largest area


def disc_components(disc_mask: np.ndarray) -> list[Component]:
    """8-connected components of ``disc_mask > 0`` with area * 10 >= the largest area.

    Returned in the order cv2 labels them (raster order of each component's first pixel).
    """
    binary = (np.asarray(disc_mask) > 0).astype(np.uint8)
    n, _, stats, cents = cv2.connectedComponentsWithStats(binary, connectivity=8)
    comps = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        comps.append(Component(i, area, x, y, x + w - 1, y + h - 1, float(cents[i][1])))
    if not comps:
        return []
    largest = max(c.area for c in comps)
    return [c for c in comps if c.area * MIN_COMPONENT_FRACTION >= largest]


def select_disc_components(disc_mask: np.ndarray, view: str) -> list[Component]:
    """Components the classifier crop is built around.

    axial: the largest component (ties: the first in cv2 raster order).
    sagittal: the two lowest components, by mean row (centroid y) descending, i.e. normally
    L5-S1 and L4-L5 (only one if only one is left after the size filter).
    """
    comps = disc_components(disc_mask)
    if not comps:
        return []
    if view == "axial":
        best = comps[0]
        for c in comps[1:]:
            if c.area > best.area:
                best = c
        return [best]
    if view == "sagittal":
        return sorted(comps, key=lambda c: -c.cy)[:2]
    raise ValueError(f"unknown view {view!r}")


def levels_from_bottom(disc_mask: np.ndarray) -> np.ndarray:
    """Label map 0 = background, k = k-th disc component from the bottom (1 = lowest), after the
    size filter; filtered-out fragments get 0. Used for SPIDER (no per-level numbering)."""
    binary = (np.asarray(disc_mask) > 0).astype(np.uint8)
    _, labels = cv2.connectedComponents(binary, connectivity=8)
    out = np.zeros(binary.shape, dtype=np.uint8)
    for k, c in enumerate(sorted(disc_components(binary), key=lambda c: -c.cy), start=1):
        out[labels == c.label] = min(k, 255)
    return out


def margin_pixels(extent: int) -> int:
    """5 % of the extent each side, rounded half up: (extent + 10) // 20."""
    return (extent + 10) // 20


def bbox_with_margin(x0: int, y0: int, x1: int, y1: int, rows: int, cols: int) -> tuple[int, int, int, int]:
    """Enlarge an inclusive box by 10 % in each dimension (5 % each side) and clamp to the image.

        w = x1 - x0 + 1;  mx = (w + 10) // 20;  X0 = max(0, x0 - mx);  X1 = min(cols - 1, x1 + mx)
        h = y1 - y0 + 1;  my = (h + 10) // 20;  Y0 = max(0, y0 - my);  Y1 = min(rows - 1, y1 + my)

    Clamping only cuts the box at the border (it is not shifted). Crop = image[Y0:Y1+1, X0:X1+1].
    """
    mx = margin_pixels(x1 - x0 + 1)
    my = margin_pixels(y1 - y0 + 1)
    return max(0, x0 - mx), max(0, y0 - my), min(cols - 1, x1 + mx), min(rows - 1, y1 + my)


def disc_bbox(disc_mask: np.ndarray, view: str) -> tuple[int, int, int, int] | None:
    """Inclusive (X0, Y0, X1, Y1) of the crop for ``view``, or None when there is no disc."""
    comps = select_disc_components(disc_mask, view)
    if not comps:
        return None
    x0 = min(c.x0 for c in comps)
    y0 = min(c.y0 for c in comps)
    x1 = max(c.x1 for c in comps)
    y1 = max(c.y1 for c in comps)
    rows, cols = np.asarray(disc_mask).shape[:2]
    return bbox_with_margin(x0, y0, x1, y1, rows, cols)
