"""Discs on a sagittal slice, in order from the bottom, for per-level grading (issue 13).

The pipeline used to take every disc component of the U-Net's mask and number them from the bottom. On
real SPIDER slices that mislabels about one patient in seven (docs/SAGITTAL-ALIGNMENT.md): a false
positive in the bowel, the sacrum (S1-S2 remnant) or beside a disc becomes "disc 1", and every level
above it takes its neighbour's grade. ``spine_discs`` keeps only components that look like discs and
lie on the spine's chain:

1. components: 8-connected, area * 10 >= the largest (as everywhere else);
2. shape: from the second moments, the major axis is at least 1.4 times the minor axis and within 65
   degrees of horizontal (a disc is flat; bowel loops are round, the sacral remnant is steep);
3. chain: a line x = a + b * y through the centroids, fitted by least squares and refitted after
   dropping the farthest component while it lies more than 1.0 x the median major axis from the line
   (bowel, vessels and fragments lie off the spine);
4. one disc per height: of two components whose rows overlap by more than half of the shorter one, the
   larger stays;
5. places: numbered from the bottom; with at least four discs, a gap of more than 1.6 S between neighbours
   (S = the median distance between neighbouring centroids) counts as a missed disc, so the discs above it keep
   their level (``places``; 1 = lowest).

Tried and dropped (docs/SAGITTAL-ALIGNMENT.md): rejecting the lowest component when it is much shorter than the
next (it caught three S1-S2 remnants or bowel loops but also four real, degenerate L5-S1 discs that the U-Net
segments only in part), and merging components nearer than 0.45 S (it fired on none of the split discs).

The TypeScript pipeline (packages/imaging/src/spine.ts) follows the same arithmetic; test/parity holds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

MIN_ELONGATION = 1.4
MAX_TILT_DEG = 65.0
CHAIN_TOLERANCE = 1.0
ROW_OVERLAP = 0.5
GAP_SPACING = 1.6


@dataclass(frozen=True)
class Disc:
    label: int  # component label in ``labels``
    area: int
    x0: int
    y0: int
    x1: int
    y1: int
    cx: float
    cy: float
    major: float  # full length of the major axis (4 * sqrt(largest eigenvalue))
    minor: float
    tilt: float  # major axis angle from horizontal, degrees, -90..90


def _moments(ys: np.ndarray, xs: np.ndarray) -> tuple[float, float, float, float, float]:
    cx, cy = float(xs.mean()), float(ys.mean())
    dx, dy = xs - cx, ys - cy
    sxx, syy, sxy = float((dx * dx).mean()), float((dy * dy).mean()), float((dx * dy).mean())
    tr, det = sxx + syy, sxx * syy - sxy * sxy
    disc = math.sqrt(max(0.0, tr * tr / 4 - det))
    l1, l2 = tr / 2 + disc, max(0.0, tr / 2 - disc)
    tilt = 0.5 * math.degrees(math.atan2(2 * sxy, sxx - syy))
    return cx, cy, 4 * math.sqrt(l1), 4 * math.sqrt(l2), tilt


def components(mask: np.ndarray) -> tuple[np.ndarray, list[Disc]]:
    """Label map and every 8-connected component of ``mask > 0`` with its shape."""
    binary = (np.asarray(mask) > 0).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    out = []
    for i in range(1, n):
        ys, xs = np.nonzero(labels == i)
        cx, cy, major, minor, tilt = _moments(ys.astype(np.float64), xs.astype(np.float64))
        x, y, w, h, area = (int(v) for v in stats[i])
        out.append(Disc(i, area, x, y, x + w - 1, y + h - 1, cx, cy, major, minor, tilt))
    return labels, out


def _fit_line(ds: list[Disc]) -> tuple[float, float]:
    ys = np.array([d.cy for d in ds])
    xs = np.array([d.cx for d in ds])
    my, mx = ys.mean(), xs.mean()
    var = float(((ys - my) ** 2).sum())
    b = float(((ys - my) * (xs - mx)).sum()) / var if var > 0 else 0.0
    return float(mx - b * my), b


def _spacing(ds: list[Disc]) -> float:
    return float(np.median([math.hypot(a.cx - b.cx, a.cy - b.cy) for a, b in zip(ds, ds[1:])]))


def spine_discs(mask: np.ndarray) -> tuple[np.ndarray, list[Disc], list[tuple[Disc, str]], list[int]]:
    """(labels, discs from the bottom up, rejected components with the reason, each disc's place from the bottom)."""
    labels, comps = components(mask)
    rejected: list[tuple[Disc, str]] = []
    if not comps:
        return labels, [], rejected, []
    largest = max(c.area for c in comps)
    kept = []
    for c in comps:
        if c.area * 10 < largest:
            rejected.append((c, "small"))
        elif c.major < MIN_ELONGATION * c.minor:
            rejected.append((c, "round"))
        elif abs(c.tilt) > MAX_TILT_DEG:
            rejected.append((c, "steep"))
        else:
            kept.append(c)
    while len(kept) >= 3:
        a, b = _fit_line(kept)
        tol = CHAIN_TOLERANCE * float(np.median([c.major for c in kept]))
        res = [abs(c.cx - (a + b * c.cy)) for c in kept]
        worst = int(np.argmax(res))
        if res[worst] <= tol:
            break
        rejected.append((kept.pop(worst), "off the spine"))
    kept.sort(key=lambda c: -c.cy)
    out: list[Disc] = []
    for c in kept:
        clash = next(
            (
                d
                for d in out
                if min(c.y1, d.y1) - max(c.y0, d.y0) + 1 > ROW_OVERLAP * min(c.y1 - c.y0 + 1, d.y1 - d.y0 + 1)
            ),
            None,
        )
        if clash is None:
            out.append(c)
        elif c.area > clash.area:
            out[out.index(clash)] = c
            rejected.append((clash, "beside a larger disc"))
        else:
            rejected.append((c, "beside a larger disc"))
    out.sort(key=lambda c: -c.cy)
    places = list(range(1, len(out) + 1))
    if len(out) >= 4:
        sp = _spacing(out)
        place = 1
        places = [1]
        for a, b in zip(out, out[1:]):
            place += 2 if math.hypot(a.cx - b.cx, a.cy - b.cy) > GAP_SPACING * sp else 1
            places.append(place)
    return labels, out, rejected, places


def tilt_says_upside_down(discs: list[Disc]) -> bool:
    """On a head-up slice the most tilted disc is the lowest (L5-S1, its front end down: tilt about -30 to -45
    degrees); mirrored top to bottom, it is the highest, tilted the other way. True when the two highest discs
    tilt more than 20 degrees, and more than the two lowest tilt the head-up way."""
    if len(discs) < 3:
        return False
    top = max(d.tilt for d in discs[-2:])
    bottom = min(d.tilt for d in discs[:2])
    return top > 20 and top > -bottom
