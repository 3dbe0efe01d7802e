"""Project disc masks for the 64 real axial slices in ../shared/data/mendeley-axial-unlabelled.

The masks are made by the lumbar-ai team (not by a radiologist) with a small, repeatable procedure: everything that
decides a mask is written in annotations/mendeley-axial/spec.json, so the masks can be rebuilt from the spec and the
images alone, byte for byte, and a reader who disagrees with an outline fixes it by editing the spec.

Usage (from the repository root):
  training/.venv/bin/python -m training.tools.axial_annotate [build]      propose + correct every slice, write masks/,
                                                                   labels.csv and montage/page-*.png
  training/.venv/bin/python -m training.tools.axial_annotate propose [--only NAME ...] [--out DIR]
                                                                   the raw proposals (no add/subtract) into DIR
  training/.venv/bin/python -m training.tools.axial_annotate correct [--only NAME ...] [--out DIR]
                                                                   proposals + the spec's corrections into DIR
  training/.venv/bin/python -m training.tools.axial_annotate montage [--masks DIR] [--out DIR]
                                                                   overlay pages (4x4 slices each) from a mask folder
  training/.venv/bin/python -m training.tools.axial_annotate review [--only NAME ...] [--out DIR] [--raw]
                                                                   zoomed overlays with a coordinate grid, for editing
                                                                   the spec (not committed)
Options: --data DIR (default $MENDELEY_AXIAL_DIR or ../shared/data/mendeley-axial-unlabelled),
         --spec FILE (default annotations/mendeley-axial/spec.json). NAME may omit ".png" and may be a substring.

The spec (JSON): {"defaults": {...}, "slices": {"<file>.png": {...}}}. Per slice:
  cut       "disc" | "endplate" | "body" | "none"  what the slice cuts at the spine
  contrast  "T1" | "T2"                            CSF dark = T1, CSF bright = T2
  disc      (only where a disc mask is drawn) a region spec, see below
  sac       (optional) a region spec for the thecal sac (label 2)
  uncertain true where the reader is not sure of the cut or of a margin ("?" on the montage, 1 in labels.csv)
  note      free text: why the reader decided what they decided
A region spec (keys left out come from the spec's "defaults", then from REGION_DEFAULTS below):
  seed      [x, y] or [[x, y], ...]: pixel(s) inside the structure (x to the right, y down, 0-based)
  roi       {"ellipse": [cx, cy, rx, ry, angle_deg]} and/or {"polygon": [[x, y], ...]}: the region is clipped to
            it (both: their intersection), so it cannot leak into psoas, canal, vessels or bone
  hi        "otsu": the region grows over pixels darker than Otsu's threshold of the smoothed image inside the roi
            grown by otsu_pad pixels (default 8), plus hi_shift (default 0) - a dark disc against bright fat or CSF.
            Any other value: the grey band comes from tol (or band)
  tol       k or [k_lo, k_hi]: band = median -/+ k * robust SD of a (2*seed_r+1)^2 window around the seed(s)
  band      [lo, hi]: an absolute grey band on the smoothed image (overrides hi and tol)
  smooth    Gaussian sigma in pixels before growing (default 1.0)
  seed_r    half-size of the seed window (default 3)
  open      radius of the morphological opening that cuts thin bridges (default 1; 0 = none)
  close     radius of the closing that smooths the margin (default 2; 0 = none)
  snap      reach in pixels (0 = off): move the outline, ray by ray from its centroid, to the strongest
            dark-to-bright step within +-reach (the annulus against fat or CSF), still inside the roi; rays without
            a step of at least snap_step grey levels per pixel (default 8) stay where they are
  add       [[[x, y], ...], ...]: polygons painted into the region after the proposal
  subtract  [[[x, y], ...], ...]: polygons removed from it (applied after add)
The procedure per region: smooth, threshold to the band, keep the 4-connected component(s) holding the seed(s) inside
the roi, open, keep the seed's component, close, fill holes, clip to the roi again, snap; then the corrections; then the
component with the seed (or the largest) is kept so that every mask is one piece. Label map: 0 background,
1 intervertebral disc, 2 thecal sac (where a "sac" region is given; the disc wins where they touch).
How a reader works: pick seed and roi from a `review` image (zoomed, with a coordinate grid, the roi in blue and
the outline in green), rebuild, look, fix leaks with a tighter roi, hi_shift or add/subtract polygons, repeat.
Slices whose file name starts with "validation__" are the held-out test split, the others train.
"""

import argparse
import csv
import json
import math
import os
import sys
import tempfile

import cv2
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
ANN = os.path.join(ROOT, "annotations", "mendeley-axial")
SPEC = os.path.join(ANN, "spec.json")
DATA = os.environ.get("MENDELEY_AXIAL_DIR", os.path.join(ROOT, "..", "shared", "data", "mendeley-axial-unlabelled"))

CUTS = ("disc", "endplate", "body", "none")
CONTRASTS = ("T1", "T2")
DISC, SAC = 1, 2
REGION_DEFAULTS = {"smooth": 1.0, "seed_r": 3, "tol": 2.5, "open": 1, "close": 2}
COLUMNS = ("file", "cut", "contrast", "split", "disc_area_px", "sac_area_px", "uncertain")
PER_PAGE = 16
COLS = 4
FOOTER = 16


def split_of(name):
    return "test" if name.startswith("validation__") else "train"


def load_spec(path=SPEC):
    with open(path) as f:
        spec = json.load(f)
    for name, s in spec["slices"].items():
        if s.get("cut") not in CUTS or s.get("contrast") not in CONTRASTS:
            raise ValueError(f"{name}: cut must be one of {CUTS} and contrast one of {CONTRASTS}")
        if "disc" in s and s["cut"] not in ("disc", "endplate"):
            raise ValueError(f"{name}: a disc region only where cut is disc or endplate")
        if s["cut"] == "disc" and "disc" not in s:
            raise ValueError(f"{name}: cut is disc but there is no disc region")
    return spec


def read_image(data, name):
    im = cv2.imread(os.path.join(data, name), cv2.IMREAD_GRAYSCALE)
    if im is None:
        raise FileNotFoundError(os.path.join(data, name))
    return im


def _points(p):
    return np.array(p, dtype=np.float64).reshape(-1, 2)


def _seeds(region):
    return [(int(round(x)), int(round(y))) for x, y in _points(region["seed"])]


def polygon_mask(shape, pts):
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(_points(pts)).astype(np.int32)], 1)
    return m.astype(bool)


def ellipse_mask(shape, cx, cy, rx, ry, angle=0.0):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    t = math.radians(angle)
    u = (xx - cx) * math.cos(t) + (yy - cy) * math.sin(t)
    v = -(xx - cx) * math.sin(t) + (yy - cy) * math.cos(t)
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0


def roi_mask(shape, roi):
    m = np.ones(shape, bool)
    if not roi:
        return m
    if "ellipse" in roi:
        m &= ellipse_mask(shape, *roi["ellipse"])
    if "polygon" in roi:
        m &= polygon_mask(shape, roi["polygon"])
    return m


def _disk(r):
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def keep_seeded(mask, seeds):
    """The 4-connected components of mask that hold a seed; the largest component if no seed is inside."""
    n, lab = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    ids = {int(lab[y, x]) for x, y in seeds if 0 <= y < mask.shape[0] and 0 <= x < mask.shape[1]} - {0}
    if not ids and n > 1:
        ids = {int(np.argmax(np.bincount(lab.ravel())[1:])) + 1}
    return np.isin(lab, sorted(ids)) if ids else np.zeros(mask.shape, bool)


def fill_holes(mask):
    m = mask.astype(np.uint8)
    pad = np.pad(m, 1)
    flood = pad.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    return (m | (1 - flood[1:-1, 1:-1])).astype(bool)


def otsu(values):
    hist = np.bincount(np.clip(np.round(values), 0, 255).astype(np.int64), minlength=256).astype(np.float64)
    p = hist / hist.sum()
    w = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * w - mu) ** 2 / (w * (1 - w))
    return float(np.nanargmax(between))


def band_of(sm, region, seeds):
    if "band" in region:
        lo, hi = region["band"]
        return float(lo), float(hi)
    if region.get("hi") == "otsu":
        # dark structure against bright fat/CSF: Otsu's threshold over the roi grown by otsu_pad pixels
        roi = roi_mask(sm.shape, region.get("roi")).astype(np.uint8)
        ring = cv2.dilate(roi, _disk(int(region.get("otsu_pad", 8)))).astype(bool)
        return -1.0, otsu(sm[ring]) + float(region.get("hi_shift", 0))
    r = int(region["seed_r"])
    vals = np.concatenate([sm[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].ravel() for x, y in seeds])
    med = float(np.median(vals))
    sd = max(1.4826 * float(np.median(np.abs(vals - med))), 1.0)
    tol = region["tol"]
    k_lo, k_hi = (tol, tol) if np.isscalar(tol) else tol
    return med - k_lo * sd, med + k_hi * sd


def smooth(image, sigma):
    """Separable Gaussian in float64 numpy (reflected border), written out tap by tap so that the result, and so the
    masks, do not depend on the CPU's SIMD paths the way a library blur might."""
    out = image.astype(np.float64)
    if sigma <= 0:
        return out
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.array([round(math.exp(-0.5 * (i / sigma) ** 2), 9) for i in range(-r, r + 1)])
    k /= k.sum()
    for axis in (0, 1):
        pad = [(r, r) if a == axis else (0, 0) for a in (0, 1)]
        padded = np.pad(out, pad, mode="reflect")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for i, w in enumerate(k):
            acc += w * (padded[i : i + n, :] if axis == 0 else padded[:, i : i + n])
        out = acc
    return out


def snap(mask, sm, reach, min_step, rays=180):
    """Move the outline, ray by ray from the centroid, to the strongest dark-to-bright step (disc to fat or CSF)
    within +-reach pixels of where it is; rays without a step of at least min_step grey levels per pixel keep their
    radius. The radii are median-filtered over 5 rays before the outline is redrawn."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0 or reach <= 0:
        return mask
    cy, cx = float(ys.mean()), float(xs.mean())
    step = 0.5
    radii = np.arange(0, 2 * max(mask.shape), step)
    h, w = mask.shape
    out = []
    for t in np.arange(rays) * (2 * math.pi / rays):
        px, py = cx + radii * math.cos(t), cy + radii * math.sin(t)
        ok = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
        inside = mask[np.round(py[ok]).astype(int), np.round(px[ok]).astype(int)]
        r0 = radii[ok][inside].max() if inside.any() else 0.0
        lo, hi = max(r0 - reach, step), r0 + reach
        sel = ok & (radii >= lo) & (radii <= hi + step)
        # bilinear profile along the ray
        x, y = px[sel], py[sel]
        x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        fx, fy = x - x0, y - y0
        prof = (
            sm[y0, x0] * (1 - fx) * (1 - fy)
            + sm[y0, x1] * fx * (1 - fy)
            + sm[y1, x0] * (1 - fx) * fy
            + sm[y1, x1] * fx * fy
        )
        grad = np.diff(prof) / step
        r = r0
        if len(grad) and grad.max() >= min_step:
            r = float(radii[sel][int(np.argmax(grad))])
        out.append(r)
    out = np.array(out)
    k = 2
    padded = np.concatenate([out[-k:], out, out[:k]])
    out = np.array([np.median(padded[i : i + 2 * k + 1]) for i in range(rays)])
    angles = np.arange(rays) * (2 * math.pi / rays)
    pts = [(cx + r * math.cos(t), cy + r * math.sin(t)) for r, t in zip(out, angles)]
    return polygon_mask(mask.shape, pts)


def propose(image, region, defaults=None):
    """Seeded region growing inside a grey band, clipped to the roi, then opening/closing and hole filling."""
    region = {**REGION_DEFAULTS, **(defaults or {}), **region}
    seeds = _seeds(region)
    sm = smooth(image, float(region["smooth"]))
    lo, hi = band_of(sm, region, seeds)
    roi = roi_mask(image.shape, region.get("roi"))
    m = keep_seeded((sm >= lo) & (sm <= hi) & roi, seeds)
    if region["open"] > 0:
        m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_OPEN, _disk(int(region["open"]))).astype(bool)
        m = keep_seeded(m, seeds)
    if region["close"] > 0:
        m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_CLOSE, _disk(int(region["close"]))).astype(bool)
    m = fill_holes(m) & roi
    if region.get("snap"):
        m = snap(m, sm, float(region["snap"]), float(region.get("snap_step", 8))) & roi
        m = keep_seeded(m, seeds)
    return m


def correct(mask, region):
    """Apply the spec's add and subtract polygons, then keep one piece (the seed's, else the largest)."""
    m = mask.copy()
    for poly in region.get("add", []):
        m |= polygon_mask(m.shape, poly)
    for poly in region.get("subtract", []):
        m &= ~polygon_mask(m.shape, poly)
    return keep_seeded(m, _seeds(region)) if m.any() else m


def label_map(image, entry, defaults=None, raw=False):
    out = np.zeros(image.shape, np.uint8)
    for key, value in (("sac", SAC), ("disc", DISC)):
        if key in entry:
            m = propose(image, entry[key], defaults)
            if not raw:
                m = correct(m, entry[key])
            out[m] = value
    return out


def make_masks(spec, data=DATA, only=None, raw=False):
    """{file name: uint8 label map} for every slice in the spec (or those matching only)."""
    out = {}
    for name in sorted(spec["slices"]):
        if only and not any(o in name for o in only):
            continue
        out[name] = label_map(read_image(data, name), spec["slices"][name], spec.get("defaults"), raw)
    return out


def write_masks(masks, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, m in masks.items():
        cv2.imwrite(os.path.join(out_dir, name), m)


def label_rows(spec, masks):
    rows = []
    for name in sorted(spec["slices"]):
        s, m = spec["slices"][name], masks[name]
        rows.append(
            {
                "file": name,
                "cut": s["cut"],
                "contrast": s["contrast"],
                "split": split_of(name),
                "disc_area_px": int((m == DISC).sum()),
                "sac_area_px": int((m == SAC).sum()),
                "uncertain": int(bool(s.get("uncertain", False))),
            }
        )
    return rows


def write_labels(rows, path):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


# ---- overlays ---------------------------------------------------------------------------------------------------
# Pages are palette PNGs: 0..239 grey, then a few colours, which keeps a 1280x1280 page near 1 MB.
GREYS = 240
GREEN, CYAN, YELLOW, BLACK = 240, 241, 242, 243
PALETTE = [round(i * 255 / (GREYS - 1)) for i in range(GREYS) for _ in range(3)]
PALETTE += [0, 255, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0]


def _outline(idx, mask, colour):
    cnts, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(idx, cnts, -1, int(colour), 1)


def _text(idx, text, org, scale=0.4):
    # drawn on a scratch mask and thresholded: OpenCV may anti-alias text, which would mix palette indices
    for colour, thickness in ((BLACK, 3), (YELLOW, 1)):
        m = np.zeros(idx.shape, np.uint8)
        cv2.putText(m, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness, cv2.LINE_8)
        idx[m > 127] = colour


def grey_index(image):
    return (image.astype(np.uint16) * (GREYS - 1) // 255).astype(np.uint8)


def tile(name, image, labels, entry):
    idx = grey_index(image)
    _outline(idx, labels == SAC, CYAN)
    _outline(idx, labels == DISC, GREEN)
    short = name[:-4].replace("validation__", "val/").replace("train__", "train/").replace("_pain__spine_", "_pain/")
    _text(idx, short, (4, 14))
    _text(
        idx,
        f"{entry['cut']}  {entry['contrast']}  {split_of(name)}" + ("  ?" if entry.get("uncertain") else ""),
        (4, 30),
    )
    return idx


def save_palette_png(idx, path):
    im = Image.fromarray(idx, "P")
    im.putpalette(PALETTE)
    im.save(path, optimize=True)


def write_montage(spec, masks, data, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.startswith("page-") and old.endswith(".png"):
            os.remove(os.path.join(out_dir, old))
    names = sorted(masks)
    paths = []
    for p in range(0, len(names), PER_PAGE):
        tiles = [tile(n, read_image(data, n), masks[n], spec["slices"][n]) for n in names[p : p + PER_PAGE]]
        h, w = tiles[0].shape
        while len(tiles) % COLS:
            tiles.append(np.zeros((h, w), np.uint8))
        rows = [np.hstack(tiles[i : i + COLS]) for i in range(0, len(tiles), COLS)]
        page = np.vstack(rows + [np.zeros((FOOTER, COLS * w), np.uint8)])
        _text(
            page,
            "Images: Sudirman et al., Lumbar Spine MRI Dataset, doi 10.17632/k57fr854j2.2, CC BY 4.0. "
            "Outlines: lumbar-ai project annotations (not a radiologist's).",
            (4, page.shape[0] - 4),
            0.35,
        )
        path = os.path.join(out_dir, f"page-{p // PER_PAGE + 1}.png")
        save_palette_png(page, path)
        paths.append(path)
    return paths


def review_tile(name, image, labels, entry, scale=3):
    """A zoomed crop (150x110 pixels around the disc seed) with a 10-pixel coordinate grid."""
    cx, cy = _seeds(entry["disc"])[0] if "disc" in entry else (160, 165)
    x0, y0 = max(0, cx - 75), max(0, cy - 50)
    x1, y1 = min(image.shape[1], x0 + 150), min(image.shape[0], y0 + 110)
    crop = image[y0:y1, x0:x1].astype(np.float32)
    lo, hi = np.percentile(crop, [1, 99.5])
    crop = np.clip((crop - lo) / max(hi - lo, 1) * 255, 0, 255).astype(np.uint8)
    big = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    rgb = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
    for x in range((x0 // 10 + 1) * 10, x1, 10):
        rgb[::5, (x - x0) * scale] = (0, 0, 200) if x % 50 else (0, 0, 255)
        cv2.putText(rgb, str(x), ((x - x0) * scale + 2, 10), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 255, 255), 1)
    for y in range((y0 // 10 + 1) * 10, y1, 10):
        rgb[(y - y0) * scale, ::5] = (0, 0, 200) if y % 50 else (0, 0, 255)
        cv2.putText(rgb, str(y), (2, (y - y0) * scale - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 255, 255), 1)
    for key in ("disc", "sac"):
        if key in entry and entry[key].get("roi"):
            m = roi_mask(image.shape, entry[key]["roi"])[y0:y1, x0:x1].astype(np.uint8)
            m = cv2.resize(m, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
            cnts, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(rgb, cnts, -1, (255, 80, 0), 1)
    for label, colour in ((SAC, (255, 255, 0)), (DISC, (0, 255, 0))):
        m = cv2.resize(
            (labels[y0:y1, x0:x1] == label).astype(np.uint8), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST
        )
        cnts, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(rgb, cnts, -1, colour, 1)
    for key in ("disc", "sac"):
        for x, y in _seeds(entry[key]) if key in entry else []:
            cv2.drawMarker(rgb, ((x - x0) * scale, (y - y0) * scale), (0, 0, 255), cv2.MARKER_CROSS, 8, 1)
    cv2.putText(
        rgb,
        f"{name[:-4]} {entry['cut']} {entry['contrast']}",
        (4, rgb.shape[0] - 6),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4,
        (0, 255, 0),
        1,
    )
    return rgb


def build(spec_path=SPEC, data=DATA, ann=ANN):
    spec = load_spec(spec_path)
    masks = make_masks(spec, data)
    missing = sorted(set(n for n in os.listdir(data) if n.endswith(".png")) - set(masks))
    if missing:
        raise ValueError(f"{len(missing)} images have no spec entry, e.g. {missing[:3]}")
    mask_dir = os.path.join(ann, "masks")
    os.makedirs(mask_dir, exist_ok=True)
    for old in os.listdir(mask_dir):
        if old.endswith(".png") and old not in masks:
            os.remove(os.path.join(mask_dir, old))
    write_masks(masks, mask_dir)
    rows = label_rows(spec, masks)
    write_labels(rows, os.path.join(ann, "labels.csv"))
    pages = write_montage(spec, masks, data, os.path.join(ann, "montage"))
    return rows, pages


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", nargs="?", default="build", choices=("build", "propose", "correct", "montage", "review"))
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--spec", default=SPEC)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--out")
    ap.add_argument("--masks", help="montage: folder of label maps (default: masks rebuilt from the spec)")
    ap.add_argument("--raw", action="store_true", help="review: show the proposals without the corrections")
    a = ap.parse_args(argv)
    if a.command == "build":
        rows, pages = build(a.spec, a.data)
        counts = {}
        for r in rows:
            for k in ("cut", "contrast", "split"):
                counts.setdefault(k, {}).setdefault(r[k], 0)
                counts[k][r[k]] += 1
        print(json.dumps({"slices": len(rows), **counts, "pages": [os.path.relpath(p, ROOT) for p in pages]}))
        return
    spec = load_spec(a.spec)
    out = a.out or tempfile.mkdtemp(prefix=f"axial-{a.command}-")
    if a.command == "montage":
        if a.masks:
            masks = {n: cv2.imread(os.path.join(a.masks, n), cv2.IMREAD_GRAYSCALE) for n in sorted(spec["slices"])}
        else:
            masks = make_masks(spec, a.data)
        print("\n".join(write_montage(spec, masks, a.data, out)))
        return
    masks = make_masks(spec, a.data, a.only, raw=(a.command == "propose" or a.raw))
    if a.command == "review":
        os.makedirs(out, exist_ok=True)
        for n, m in masks.items():
            cv2.imwrite(os.path.join(out, n), review_tile(n, read_image(a.data, n), m, spec["slices"][n]))
    else:
        write_masks(masks, out)
    for n, m in masks.items():
        print(f"{n}\tdisc={int((m == DISC).sum())}\tsac={int((m == SAC).sum())}")
    print(out, file=sys.stderr)


if __name__ == "__main__":
    main()
