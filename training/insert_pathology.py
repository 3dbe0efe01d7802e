"""Herniations inserted into real axial slices, labels known by construction (issue 14, part 3).

No labelled real axial herniation data exists, so this module makes semi-synthetic examples from real axial disc
slices with a disc mask (annotations/mendeley-axial): a smooth displacement field moves the disc's own pixels
outward across the posterior margin into the epidural space / canal. Nothing is pasted: the new image is the old
image resampled (cv2.remap) through the field, so the protruding part carries the disc's own texture, and the new
mask is the old mask resampled the same way. The field is exactly zero away from the posterior margin, so the rest
of the image is unchanged pixel for pixel.

Kinds (``kind``) and the side convention (radiological axial display: anterior at the top, **the patient's left on
the image's right**, the canal below the disc):

- ``bulge``: diffuse, broad-based; the whole posterior and posterolateral margin moves outward along its own
  normal by ``size_mm`` (typically 1.5-3 mm), smoothly.
- ``central``: focal protrusion at the midline, posteriorly.
- ``left`` / ``right``: focal paracentral protrusion on the patient's left (image right) / right (image left),
  centred 30-40 % of the disc half-width from the midline (drawn from ``rng``).
- ``shape="extrusion"`` (focal kinds only): a narrower neck with a wider dome; the dome's material is spread
  sideways, so part of it overhangs the margin beside the neck.

``size_mm`` is how far the disc margin moves at the centre of the insertion (typically 2-8 mm for focal kinds);
``info["max_displacement_mm"]`` is the measured depth: the largest distance of a new disc pixel from the old
disc. The Mendeley PNGs carry no geometry; ``pixel_mm`` defaults to 1.0 mm/pixel (a 320 mm field of view on the
320x320 grid, an assumption).

How the field is built (``y`` an output pixel, the image sampled at ``y - B(y)``):

- geometry from the mask: centroid ``c``; principal axes, ``u`` the long (left-right) one pointing to image right,
  ``v`` the short one pointing posterior (increasing image y); the midline is the middle of the disc's extent
  along ``u``; the margin point ``p0`` is the last disc pixel on the line ``c + s u + t v`` (``s`` 0 for central,
  +/- 0.30-0.40 half-widths for paracentral); its outward normal ``n0`` from the smoothed mask's gradient.
- focal: ``B = A T(s_t) P(s_n) n0`` with ``s_n``, ``s_t`` the coordinates along ``n0`` and across it from ``p0``;
  ``T`` a compact bump (1 - r^2)^2 across (half base width ``w``), ``P`` 0 deep in the disc, rising over ``R_in``
  (about 3 ``A``) to 1 at the margin, 1 up to ``A`` outside, falling to 0 over ``2 A``. The Jacobian of
  ``y -> y - B(y)`` is ``1 - A dW/ds_n > 0`` by the choice of ``R_in``: the warp does not fold or tear. The
  material from ``[-R_in, 0]`` fills ``[-R_in, A]``; the fat and canal from ``[0, 3 A]`` are compressed into
  ``[A, 3 A]`` (a crude mass effect).
- extrusion: as focal with a narrow ``w``, plus a sideways contraction of the sampling coordinate ``s_t`` at the
  level of the dome, so the dome is about twice the neck's width.
- bulge: ``B = A Ang(phi) P(d) N(y)``, ``d`` the smoothed signed distance to the disc margin, ``N`` the outward
  direction of the heavily smoothed mask, ``Ang`` a window on the elliptic angle around the centroid that covers the
  posterior and posterolateral margin (full from 40 to 140 degrees, 90 = straight posterior; zero beyond 15-165).

What it cannot represent: sequestration (a free fragment), foraminal and extraforaminal herniation (only the
posterior and posterolateral margin inside the canal is moved), nerve-root compression or displacement and other
effects on the sac beyond a smooth push, annulus fissures (high-intensity zones), signal changes of the herniated
material, and cranio-caudal migration (one slice only). See docs/AXIAL-INSERTION.md.
"""

from __future__ import annotations

import csv
import os

import cv2
import numpy as np

KINDS = ("bulge", "central", "left", "right")
SHAPES = ("protrusion", "extrusion")
MAX_SIZE_MM = 12.0
# typical sizes: ranges used when size_mm is None, and said in the docs
SIZE_RANGE_MM = {"bulge": (1.5, 3.0), "central": (2.0, 8.0), "left": (2.0, 8.0), "right": (2.0, 8.0)}
PARACENTRAL_FRACTION = (0.30, 0.40)
SIDE_IMAGE = {"left": "image right", "right": "image left", "central": "midline", "bulge": "both sides"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANN_DIR = os.path.join(ROOT, "annotations", "mendeley-axial")
IMG_DIR = os.path.join(ROOT, "..", "shared", "data", "mendeley-axial-unlabelled")
CREDIT = (
    "Images: Sudirman et al., Lumbar Spine MRI Dataset, Mendeley Data, doi 10.17632/k57fr854j2.2, CC BY 4.0. "
    "Masks: lumbar-ai project annotations (not a radiologist's). Semi-synthetic."
)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _bump(r: np.ndarray, power: int = 2) -> np.ndarray:
    """Compact, smooth bump: (1 - r^power)^2 for |r| < 1, exactly 0 beyond (power 2: Gaussian-like; 4: flatter
    top, a rounder dome)."""
    q = np.clip(1.0 - np.abs(r) ** power, 0.0, 1.0)
    return q * q


def _profile(s: np.ndarray, a: float, r_in: float, l_out: float) -> np.ndarray:
    """0 at depth -r_in inside, rising to 1 at the margin, 1 up to a outside, falling to 0 at a + l_out."""
    rise = _smoothstep((s + r_in) / r_in)
    fall = 1.0 - _smoothstep((s - a) / l_out)
    return np.where(s < 0, rise, np.where(s <= a, 1.0, fall))


def _bilinear(arr: np.ndarray, x: float, y: float) -> float:
    return float(cv2.getRectSubPix(arr.astype(np.float32), (1, 1), (float(x), float(y)))[0, 0])


def disc_geometry(mask: np.ndarray) -> dict:
    """Centroid, principal axes (u: left-right, to image right; v: front-back, to posterior = increasing y),
    half-width/half-thickness along them and the midline offset along u, from a boolean disc mask."""
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys], 1).astype(np.float64)
    c = pts.mean(0)
    evals, evecs = np.linalg.eigh(np.cov((pts - c).T))
    u = evecs[:, 1]  # largest eigenvalue: the long (left-right) axis
    if u[0] < 0:
        u = -u
    v = np.array([-u[1], u[0]])
    if v[1] < 0:
        v = -v
    pu, pv = (pts - c) @ u, (pts - c) @ v
    return {
        "c": c,
        "u": u,
        "v": v,
        "half_width": (pu.max() - pu.min() + 1) / 2,
        "half_thickness": (pv.max() - pv.min() + 1) / 2,
        "mid_s": (pu.max() + pu.min()) / 2,
    }


def _margin_point(soft: np.ndarray, c: np.ndarray, d: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Last point where the softened mask crosses 0.5 on the ray start + t d, t >= 0 (sub-pixel)."""
    h, w = soft.shape
    ts = np.arange(0.0, 2.0 * max(h, w), 0.25)
    xs, ys = start[0] + ts * d[0], start[1] + ts * d[1]
    ok = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    ts, xs, ys = ts[ok], xs[ok], ys[ok]
    vals = cv2.remap(soft, xs.astype(np.float32)[None], ys.astype(np.float32)[None], cv2.INTER_LINEAR)[0]
    inside = np.nonzero(vals >= 0.5)[0]
    if len(inside) == 0:
        raise ValueError(
            "could not find the posterior disc margin: the mask is not crossed by the line at the requested position"
        )
    i = inside[-1]
    if i + 1 < len(ts):
        f = (vals[i] - 0.5) / max(vals[i] - vals[i + 1], 1e-6)
        t = ts[i] + f * (ts[i + 1] - ts[i])
    else:
        t = ts[i]
    return start + t * d


def _check(image, disc_mask, kind, size_mm, pixel_mm, shape):
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: use one of {', '.join(SHAPES)}.")
    if shape == "extrusion" and kind == "bulge":
        raise ValueError("a bulge is diffuse and cannot be an extrusion: use kind central, left or right.")
    image = np.asarray(image)
    mask = np.asarray(disc_mask)
    if image.ndim != 2 or mask.shape != image.shape:
        raise ValueError(
            f"image and disc_mask must be 2-D arrays of the same shape, got {image.shape} and {mask.shape}."
        )
    if not np.any(mask):
        raise ValueError("the disc mask is empty: there is no disc to move.")
    if size_mm is not None and not (0.0 < float(size_mm) <= MAX_SIZE_MM):
        raise ValueError(f"size_mm must be in (0, {MAX_SIZE_MM:g}] mm, got {size_mm}.")
    if not (np.isfinite(pixel_mm) and pixel_mm > 0):
        raise ValueError(f"pixel_mm must be a positive number of millimetres, got {pixel_mm}.")
    return image, mask > 0


def insert(
    image: np.ndarray,
    disc_mask: np.ndarray,
    kind: str,
    size_mm: float | None = None,
    pixel_mm: float = 1.0,
    rng: np.random.Generator | None = None,
    shape: str = "protrusion",
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Insert a bulge or a focal protrusion/extrusion by moving the disc's own pixels outward across its posterior
    margin. Returns (new image, same dtype; new disc mask, uint8 0/1; info).

    image: 2-D grey image. disc_mask: same shape, nonzero = disc (pass ``labels == 1`` for a label map).
    kind: bulge | central | left | right (patient's left = image right). size_mm: outward movement of the margin at
    the centre, in (0, 12] mm; None draws it from the typical range with ``rng``. pixel_mm: in-plane spacing
    (1.0 mm/pixel assumed for the Mendeley PNGs). rng: numpy Generator for the small random choices (paracentral
    offset 30-40 % of the half-width, +/- 15 % base width, +/- 3 % midline jitter); None = no jitter.
    shape: protrusion | extrusion (focal kinds only).
    """
    image, mask = _check(image, disc_mask, kind, size_mm, pixel_mm, shape)
    jitter = rng is not None
    if size_mm is None:
        lo, hi = SIZE_RANGE_MM[kind]
        size_mm = float(rng.uniform(lo, hi)) if jitter else (lo + hi) / 2
    size_mm = float(size_mm)
    a = size_mm / pixel_mm  # margin displacement in pixels
    h, w = mask.shape
    g = disc_geometry(mask)
    c, u, v, hw, ht = g["c"], g["u"], g["v"], g["half_width"], g["half_thickness"]
    soft1 = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)
    frac = 0.0
    if kind in ("left", "right"):
        frac = float(rng.uniform(*PARACENTRAL_FRACTION)) if jitter else float(np.mean(PARACENTRAL_FRACTION))
    elif jitter:
        frac = float(rng.uniform(-0.03, 0.03))
    sign = -1.0 if kind == "right" else 1.0  # patient's left = image right = +u
    s_along = g["mid_s"] + sign * frac * hw
    p0 = _margin_point(soft1, c, v, c + s_along * u)
    width_jitter = float(rng.uniform(0.85, 1.15)) if jitter else 1.0

    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    info = {
        "kind": kind,
        "shape": shape if kind != "bulge" else "bulge",
        "size_mm": size_mm,
        "pixel_mm": pixel_mm,
        "side": {"left": "left", "right": "right", "central": "central", "bulge": "diffuse"}[kind],
        "image_side": SIDE_IMAGE[kind],
        "convention": "radiological: patient's left = image right, anterior up",
        "centre_xy": (float(p0[0]), float(p0[1])),
    }
    if kind == "bulge":
        sx, sy, wgt, n_at = _bulge_field(mask, gx, gy, c, u, v, hw, ht, a)
        info["direction"] = (float(n_at[0]), float(n_at[1]))
        info["tip_xy"] = (float(p0[0] + a * v[0]), float(p0[1] + a * v[1]))
    else:
        soft3 = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 3.0)
        dx = cv2.Sobel(soft3, cv2.CV_32F, 1, 0, ksize=3)
        dy = cv2.Sobel(soft3, cv2.CV_32F, 0, 1, ksize=3)
        n0 = -np.array([_bilinear(dx, *p0), _bilinear(dy, *p0)])
        n0 = n0 / max(np.linalg.norm(n0), 1e-9) if np.linalg.norm(n0) > 1e-9 else v.copy()
        for _ in range(5):  # keep it pointing posteriorly (into the canal), never sideways or forwards
            if n0 @ v >= 0.6:
                break
            n0 = (n0 + v) / np.linalg.norm(n0 + v)
        depth = 2 * ht  # the field must not reach the anterior margin
        r_in = min(3.0 * a, 0.8 * depth)
        if r_in < 1.6 * a:
            raise ValueError(
                f"size {size_mm:g} mm is too large for this disc ({depth * pixel_mm:.0f} mm thick): "
                "the field would fold."
            )
        sx, sy, wgt = _focal_field(gx, gy, p0, n0, a, r_in, hw, shape, width_jitter)
        info["direction"] = (float(n0[0]), float(n0[1]))
        info["tip_xy"] = (float(p0[0] + a * n0[0]), float(p0[1] + a * n0[1]))
    moved = wgt > 0
    mx, my = sx.astype(np.float32), sy.astype(np.float32)
    warped = cv2.remap(image.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if np.issubdtype(image.dtype, np.integer):
        lim = np.iinfo(image.dtype)
        warped = np.clip(np.rint(warped), lim.min, lim.max)
    new_image = np.where(moved, warped, image).astype(image.dtype)
    wmask = cv2.remap(mask.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    new_mask = np.where(moved, wmask >= 0.5, mask).astype(np.uint8)

    jac = _jacobian(sx, sy)
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    added = (new_mask > 0) & ~mask
    info.update(
        {
            "max_displacement_mm": float(outside[new_mask > 0].max() * pixel_mm) if added.any() else 0.0,
            "field_max_mm": float(np.hypot(gx - sx, gy - sy).max() * pixel_mm),
            "added_area_px": int(added.sum()),
            "removed_area_px": int((mask & (new_mask == 0)).sum()),
            "changed_region_px": int(moved.sum()),
            "min_jacobian": float(jac[moved].min()) if moved.any() else 1.0,
            "paracentral_fraction": frac if kind in ("left", "right") else 0.0,
        }
    )
    return new_image, new_mask, info


def _focal_field(gx, gy, p0, n0, a, r_in, hw, shape, width_jitter):
    """Sampling map (sx, sy) and weight for a focal protrusion/extrusion centred at p0 along n0."""
    tau = np.array([-n0[1], n0[0]])
    s_n = (gx - p0[0]) * n0[0] + (gy - p0[1]) * n0[1]
    s_t = (gx - p0[0]) * tau[0] + (gy - p0[1]) * tau[1]
    l_out = max(2.0 * a, 4.0)
    prof = _profile(s_n, a, r_in, l_out)
    if shape == "protrusion":
        wid = min(max(1.8 * a, 6.0), 0.5 * hw) * width_jitter
        wgt = _bump(s_t / wid, 4) * prof
    else:
        # narrow neck; at the dome's level the sideways coordinate is contracted, so the dome is ~2x wider
        wid = min(max(0.8 * a, 3.0), 0.3 * hw) * width_jitter
        level = _smoothstep((s_n - 0.3 * a) / (0.4 * a)) * (1.0 - _smoothstep((s_n - 1.0 * a) / (1.0 * a)))
        lateral = 1.0 - _smoothstep((np.abs(s_t) - 2.0 * wid) / (1.5 * wid))
        s_t = s_t * (1.0 - 0.5 * level * lateral)
        wgt = _bump(s_t / wid) * prof
    disp = a * wgt
    src_t = s_t
    sx = p0[0] + src_t * tau[0] + (s_n - disp) * n0[0]
    sy = p0[1] + src_t * tau[1] + (s_n - disp) * n0[1]
    # where the weight is 0 (and, for the extrusion, the contraction too) the map must be the identity
    if shape == "extrusion":
        changed = (wgt > 0) | (level * lateral > 0)
    else:
        changed = wgt > 0
    sx = np.where(changed, sx, gx)
    sy = np.where(changed, sy, gy)
    return sx, sy, changed.astype(np.float64)


def _bulge_field(mask, gx, gy, c, u, v, hw, ht, a):
    """Sampling map and weight for a diffuse bulge of the posterior/posterolateral margin by a pixels."""
    m8 = mask.astype(np.uint8)
    d_out = cv2.distanceTransform(1 - m8, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d_in = cv2.distanceTransform(m8, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d = cv2.GaussianBlur((d_out - d_in + np.where(mask, 0.5, -0.5)).astype(np.float32), (0, 0), 1.5)
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), max(0.25 * ht, 4.0))
    nx = -cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
    ny = -cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    norm = np.maximum(np.hypot(nx, ny), 1e-9)
    nx, ny = nx / norm, ny / norm
    rx, ry = gx - c[0], gy - c[1]
    phi = np.degrees(np.arctan2((rx * v[0] + ry * v[1]) / ht, (rx * u[0] + ry * u[1]) / hw))  # 90 = posterior
    ang = _smoothstep((phi - 15.0) / 25.0) * _smoothstep((165.0 - phi) / 25.0)
    r_in = min(3.0 * a, 0.6 * ht)
    wgt = ang * _profile(d, a, r_in, max(2.0 * a, 4.0))
    sx = np.where(wgt > 0, gx - a * wgt * nx, gx)
    sy = np.where(wgt > 0, gy - a * wgt * ny, gy)
    iy, ix = int(round(c[1] + ht * v[1])), int(round(c[0] + ht * v[0]))
    iy, ix = min(max(iy, 0), mask.shape[0] - 1), min(max(ix, 0), mask.shape[1] - 1)
    return sx, sy, wgt, np.array([nx[iy, ix], ny[iy, ix]])


def _jacobian(sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """Determinant of the sampling map's Jacobian (> 0 everywhere: no folding)."""
    dsx_dy, dsx_dx = np.gradient(sx)
    dsy_dy, dsy_dx = np.gradient(sy)
    return dsx_dx * dsy_dy - dsx_dy * dsy_dx


# ---------------------------------------------------------------------------------------------------------- figure

EXAMPLE_FILES = (
    "train__with_pain__spine_0001.png",
    "train__with_pain__spine_0004.png",
    "train__without_pain__spine_0005.png",
    "train__without_pain__spine_0013.png",
)
# (column label, kind, size_mm, shape)
EXAMPLE_COLUMNS = (
    ("bulge", "bulge", 2.5, "protrusion"),
    ("central", "central", 5.0, "protrusion"),
    ("left", "left", 5.0, "protrusion"),
    ("right", "right", 5.0, "protrusion"),
    ("extrusion", "central", 7.0, "extrusion"),
)


def load_slice(name: str, ann_dir: str = ANN_DIR, img_dir: str = IMG_DIR) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8, disc mask bool) of one Mendeley axial slice."""
    img = cv2.imread(os.path.join(img_dir, name), cv2.IMREAD_GRAYSCALE)
    lab = cv2.imread(os.path.join(ann_dir, "masks", name), cv2.IMREAD_UNCHANGED)
    if img is None or lab is None:
        raise FileNotFoundError(f"missing image or mask for {name}")
    return img, lab == 1


def train_disc_files(ann_dir: str = ANN_DIR) -> list[str]:
    with open(os.path.join(ann_dir, "labels.csv")) as f:
        return [r["file"] for r in csv.DictReader(f) if r["cut"] == "disc" and r["split"] == "train"]


def _tile(img, old_mask, new_mask, label, crop, scale):
    x0, y0, cw, ch = crop
    rgb = cv2.cvtColor(img[y0 : y0 + ch, x0 : x0 + cw], cv2.COLOR_GRAY2BGR)
    rgb = cv2.resize(rgb, (cw * scale, ch * scale), interpolation=cv2.INTER_CUBIC)

    def outline(m, colour, thick):
        m = cv2.resize(
            m[y0 : y0 + ch, x0 : x0 + cw].astype(np.uint8), (cw * scale, ch * scale), interpolation=cv2.INTER_NEAREST
        )
        cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(rgb, cs, -1, colour, thick, cv2.LINE_AA)

    if new_mask is not None:
        outline(old_mask, (0, 0, 255), 1)  # red: original outline
        outline(new_mask, (0, 255, 0), 1)  # green: new outline
    else:
        outline(old_mask, (0, 255, 0), 1)
    cv2.rectangle(rgb, (0, 0), (rgb.shape[1], 18), (0, 0, 0), -1)
    cv2.putText(rgb, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(rgb, "R", (4, rgb.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(
        rgb, "L", (rgb.shape[1] - 14, rgb.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1, cv2.LINE_AA
    )
    return rgb


def make_examples(out_png: str, files: tuple[str, ...] = EXAMPLE_FILES, seed: int = 0) -> str:
    """Side-by-side figure: per slice (train split only) the original and each kind, outlines drawn."""
    allowed = set(train_disc_files())
    rows = []
    for name in files:
        if name not in allowed:
            raise ValueError(f"{name} is not a train-split disc slice")
        img, mask = load_slice(name)
        g = disc_geometry(mask)
        cw, ch, scale = 120, 96, 2
        x0 = int(np.clip(round(g["c"][0] - cw / 2), 0, img.shape[1] - cw))
        y0 = int(np.clip(round(g["c"][1] - ch / 2 + 12), 0, img.shape[0] - ch))
        tiles = [_tile(img, mask, None, f"original {name[7:-4]}", (x0, y0, cw, ch), scale)]
        for label, kind, size, shape in EXAMPLE_COLUMNS:
            rng = np.random.default_rng(seed)
            new_img, new_mask, info = insert(img, mask, kind, size, 1.0, rng, shape=shape)
            desc = {"left": "left (img right)", "right": "right (img left)"}.get(kind, kind)
            text = (
                f"{desc} {info['max_displacement_mm']:.1f}mm"
                if label != "extrusion"
                else f"extrusion central {info['max_displacement_mm']:.1f}mm"
            )
            tiles.append(_tile(new_img, mask, new_mask, text, (x0, y0, cw, ch), scale))
        rows.append(np.hstack([np.pad(t, ((2, 2), (2, 2), (0, 0))) for t in tiles]))
    body = np.vstack(rows)
    head = np.zeros((40, body.shape[1], 3), np.uint8)
    cv2.putText(
        head,
        "Semi-synthetic: disc pixels moved by a smooth field. Anterior up; patient's left = image right "
        "(L/R marks). Red: original disc outline, green: new. 1.0 mm/pixel assumed.",
        (6, 16),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    cv2.putText(
        head,
        "Sizes: measured max displacement of the margin. Requested: bulge 2.5, central/left/right 5, extrusion 7 mm.",
        (6, 34),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    foot = np.zeros((22, body.shape[1], 3), np.uint8)
    cv2.putText(foot, CREDIT, (6, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 200, 200), 1, cv2.LINE_AA)
    fig = np.vstack([head, body, foot])
    os.makedirs(os.path.dirname(os.path.abspath(out_png)), exist_ok=True)
    cv2.imwrite(out_png, fig, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return out_png


if __name__ == "__main__":
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "axial-insertion-examples.png")
    print(make_examples(out))
