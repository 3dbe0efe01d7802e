"""Image preprocessing shared by training and (re-implemented bit for bit) by the TypeScript pipeline.

Every step here is written so that the TypeScript side can reproduce it *exactly*, pixel for pixel:
integer arithmetic wherever possible, and where OpenCV is used (CLAHE) a pure-numpy reference
(:func:`clahe_reference`) spells out the arithmetic and a test checks it equals OpenCV.

Pipeline for the classifiers (paper section II.B "Bounding box cropping", "ROI Enhancement"):

1. 16-bit DICOM -> 8 bits: :func:`to_uint8` (0.5th..99.5th percentile window, mirror of
   ``packages/imaging/src/window.ts``). PNG data sets are already 8-bit.
2. Disc mask -> components (8-connectivity) -> the component(s) of interest
   (:func:`select_disc_components`): axial = the largest; sagittal = the two lowest (L4-L5, L5-S1).
3. Bounding box of those components enlarged by 10 % (5 % each side, :func:`bbox_with_margin`),
   clamped to the image.
4. Crop, resize to 64x64 with :func:`resize_bilinear_u8` (integer half-pixel bilinear, equal to
   ``cv2.INTER_LINEAR`` up to +-1 grey level; we do NOT call cv2.resize because its fixed-point
   rounding and IPP paths are not specified).
5. CLAHE clipLimit 2.0, tileGridSize (4, 4) (``cv2.createCLAHE``; exact arithmetic in
   :func:`clahe_reference`).
6. Replicate grey to 3 channels (DiscNet takes 64x64x3: the paper's parameter count implies 3 input
   channels), float32 = uint8 / 255, layout NCHW.

Pipeline for the U-Nets: :func:`letterbox` the 8-bit image to 256x256 (aspect kept, zero padding,
bilinear as above), float32 = uint8 / 255, 1 channel. Predicted probabilities > 0.5 -> binary mask,
:func:`unletterbox_mask` back to the image size (nearest, integer rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

CROP_SIZE = 64
SEG_SIZE = 256
BBOX_MARGIN_PERCENT_EACH_SIDE = 5
CLAHE_CLIP_LIMIT = 2.0
CLAHE_TILES = (4, 4)
MIN_COMPONENT_FRACTION = 10  # keep components with area * 10 >= largest area
RESIZE_INTERPOLATION = "bilinear-half-pixel-integer"

# ----------------------------------------------------------------------------------------------
# 16 bits -> 8 bits (mirror of packages/imaging/src/window.ts)
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Resizing (integer arithmetic, reproducible everywhere)
# ----------------------------------------------------------------------------------------------


def _bilinear_axis(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices and integer weights (scale 2*dst) along one axis.

    For output index d: n = (2d+1)*src - dst  (= 2*dst * ((d+0.5)*src/dst - 0.5)).
    If n < 0: i0 = 0, f = 0; else i0 = n // (2*dst), f = n - i0*2*dst.
    If i0 >= src-1: i0 = src-1, f = 0.  i1 = min(i0+1, src-1). w0 = 2*dst - f, w1 = f.
    """
    d = np.arange(dst, dtype=np.int64)
    n = (2 * d + 1) * src - dst
    den = 2 * dst
    i0 = np.where(n < 0, 0, n // den)
    f = np.where(n < 0, 0, n - (n // den) * den)
    last = i0 >= src - 1
    i0 = np.where(last, src - 1, i0)
    f = np.where(last, 0, f)
    i1 = np.minimum(i0 + 1, src - 1)
    return i0, i1, den - f, f


def resize_bilinear_u8(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize of a 2-D uint8 image with half-pixel centres, exact integer arithmetic.

    With the per-axis indices/weights of :func:`_bilinear_axis` (x: wx0, wx1 scale 2*out_w;
    y: wy0, wy1 scale 2*out_h):

        num = wy0*(wx0*I[y0,x0] + wx1*I[y0,x1]) + wy1*(wx0*I[y1,x0] + wx1*I[y1,x1])
        den = (2*out_h) * (2*out_w)
        out = (num + den/2) // den          (round half up; den is even)

    This is the real-number result of cv2.INTER_LINEAR rounded half up; cv2 itself may differ by
    one grey level because of its 11-bit fixed-point weights.
    """
    if img.ndim != 2:
        raise ValueError("resize_bilinear_u8 expects a 2-D image")
    h, w = img.shape
    y0, y1, wy0, wy1 = _bilinear_axis(h, out_h)
    x0, x1, wx0, wx1 = _bilinear_axis(w, out_w)
    a = img.astype(np.int64)
    top = a[y0][:, x0] * wx0[None, :] + a[y0][:, x1] * wx1[None, :]
    bot = a[y1][:, x0] * wx0[None, :] + a[y1][:, x1] * wx1[None, :]
    num = top * wy0[:, None] + bot * wy1[:, None]
    den = (2 * out_h) * (2 * out_w)
    return ((num + den // 2) // den).astype(np.uint8)


def resize_nearest(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Nearest-neighbour resize with half-pixel centres: src index = ((2d+1)*src) // (2*dst)."""
    h, w = img.shape[:2]
    ys = ((2 * np.arange(out_h, dtype=np.int64) + 1) * h) // (2 * out_h)
    xs = ((2 * np.arange(out_w, dtype=np.int64) + 1) * w) // (2 * out_w)
    return img[ys][:, xs]


def resize_bilinear_float(a: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize of a 2-D float map (probabilities) with half-pixel centres, in float64.

    Per axis: s = (d + 0.5) * src / dst - 0.5, clamped to [0, src - 1]; i0 = floor(s), i1 = min(i0 + 1, src - 1),
    f = s - i0. Rows of the input are first interpolated along x: r = a[:, x0] * (1 - fx) + a[:, x1] * fx, then
    along y: out = r[y0] * (1 - fy) + r[y1] * fy (packages/imaging resizeBilinearFloat does the same operations
    in the same order, so both give the same float64 values)."""
    if a.ndim != 2:
        raise ValueError("resize_bilinear_float expects a 2-D array")
    h, w = a.shape

    def axis(src: int, dst: int):
        s = (np.arange(dst, dtype=np.float64) + 0.5) * src / dst - 0.5
        s = np.clip(s, 0.0, src - 1.0)
        i0 = np.floor(s).astype(np.int64)
        i1 = np.minimum(i0 + 1, src - 1)
        return i0, i1, s - i0

    y0, y1, fy = axis(h, out_h)
    x0, x1, fx = axis(w, out_w)
    a = a.astype(np.float64)
    r = a[:, x0] * (1.0 - fx)[None, :] + a[:, x1] * fx[None, :]
    return r[y0] * (1.0 - fy)[:, None] + r[y1] * fy[:, None]


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


# ----------------------------------------------------------------------------------------------
# Disc components and bounding box
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    label: int
    area: int
    x0: int
    y0: int
    x1: int  # inclusive
    y1: int  # inclusive
    cy: float  # mean row index


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


# ----------------------------------------------------------------------------------------------
# CLAHE
# ----------------------------------------------------------------------------------------------


def clahe(img: np.ndarray, clip_limit: float = CLAHE_CLIP_LIMIT, tiles: tuple[int, int] = CLAHE_TILES) -> np.ndarray:
    """OpenCV CLAHE (what training uses); see :func:`clahe_reference` for the arithmetic."""
    return cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=tiles).apply(np.ascontiguousarray(img, dtype=np.uint8))


def _round_half_even(x: np.ndarray) -> np.ndarray:
    return np.rint(x)


def clahe_reference(img: np.ndarray, clip_limit: float = CLAHE_CLIP_LIMIT, tiles: tuple[int, int] = CLAHE_TILES) -> np.ndarray:
    """Pure-numpy re-statement of cv2 CLAHE for uint8 images whose size divides by the tile grid
    (64x64 with 4x4 tiles: 16x16 tiles of 256 pixels). The tests check it equals cv2 exactly.

    Per tile (tx, ty), with A = tile area, 256 bins:
      limit = max(1, int(clip_limit * A / 256))             (64x64, 4x4: 2)
      hist clipped at limit; clipped = sum of excess;
      batch = clipped // 256, residual = clipped - 256*batch; every bin += batch;
      if residual: step = max(256 // residual, 1); for i = 0, step, 2*step, ... while i < 256 and
        residual > 0: hist[i] += 1, residual -= 1
      lut[v] = round_half_even(cumsum(hist)[v] * (255 / A))   (float32; exact for A = 256)
    Per pixel (x, y) with value v, tile size (tw, th):
      txf = x / tw - 0.5; tx1 = floor(txf); xa = txf - tx1; tx2 = min(tx1 + 1, tilesX - 1);
      tx1 = max(tx1, 0); same for y;
      res = (lut[ty1][tx1][v]*(1-xa) + lut[ty1][tx2][v]*xa)*(1-ya)
          + (lut[ty2][tx1][v]*(1-xa) + lut[ty2][tx2][v]*xa)*ya
      out = round_half_even(res)                                (exact in float32 here)
    """
    img = np.asarray(img, dtype=np.uint8)
    rows, cols = img.shape
    tiles_x, tiles_y = tiles
    if rows % tiles_y or cols % tiles_x:
        raise ValueError("clahe_reference needs an image size divisible by the tile grid")
    th, tw = rows // tiles_y, cols // tiles_x
    area = th * tw
    limit = max(1, int(clip_limit * area / 256))
    lut_scale = np.float32(255.0) / np.float32(area)
    luts = np.zeros((tiles_y, tiles_x, 256), dtype=np.float32)
    for ty in range(tiles_y):
        for tx in range(tiles_x):
            tile = img[ty * th : (ty + 1) * th, tx * tw : (tx + 1) * tw]
            hist = np.bincount(tile.ravel(), minlength=256).astype(np.int64)
            excess = np.maximum(hist - limit, 0)
            clipped = int(excess.sum())
            hist = np.minimum(hist, limit)
            batch = clipped // 256
            residual = clipped - batch * 256
            hist += batch
            if residual:
                step = max(256 // residual, 1)
                i = 0
                while i < 256 and residual > 0:
                    hist[i] += 1
                    i += step
                    residual -= 1
            cums = np.cumsum(hist).astype(np.float32)
            luts[ty, tx] = np.clip(_round_half_even(cums * lut_scale), 0, 255)

    def axis(n: int, t: int, count: int):
        f = np.arange(n, dtype=np.float32) * (np.float32(1) / np.float32(t)) - np.float32(0.5)
        i1 = np.floor(f).astype(np.int64)
        a = (f - i1).astype(np.float32)
        i2 = np.minimum(i1 + 1, count - 1)
        i1 = np.maximum(i1, 0)
        return i1, i2, a

    ty1, ty2, ya = axis(rows, th, tiles_y)
    tx1, tx2, xa = axis(cols, tw, tiles_x)
    v = img.astype(np.int64)
    yy = np.arange(rows)[:, None]
    xx = np.arange(cols)[None, :]
    l11 = luts[ty1[yy], tx1[xx], v]
    l12 = luts[ty1[yy], tx2[xx], v]
    l21 = luts[ty2[yy], tx1[xx], v]
    l22 = luts[ty2[yy], tx2[xx], v]
    xa_ = xa[None, :]
    ya_ = ya[:, None]
    one = np.float32(1.0)
    res = (l11 * (one - xa_) + l12 * xa_) * (one - ya_) + (l21 * (one - xa_) + l22 * xa_) * ya_
    return np.clip(_round_half_even(res.astype(np.float32)), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Whole crop pipeline, tensors, augmentation
# ----------------------------------------------------------------------------------------------


def crop_disc(image: np.ndarray, disc_mask: np.ndarray, view: str, size: int = CROP_SIZE, use_clahe: bool = True) -> np.ndarray | None:
    """8-bit image + disc mask of the same size -> uint8 ``size x size`` enhanced crop, or None."""
    if image.shape[:2] != disc_mask.shape[:2]:
        raise ValueError(f"image {image.shape} and mask {disc_mask.shape} differ in size")
    box = disc_bbox(disc_mask, view)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    crop = resize_bilinear_u8(np.ascontiguousarray(image[y0 : y1 + 1, x0 : x1 + 1]), size, size)
    return clahe(crop) if use_clahe else crop


def crop_to_input(crop: np.ndarray, channels: int = 3) -> np.ndarray:
    """uint8 HxW -> float32 (channels, H, W) = crop / 255, grey replicated to every channel."""
    x = crop.astype(np.float32) / np.float32(255.0)
    return np.repeat(x[None, :, :], channels, axis=0)


def seg_input(image: np.ndarray, size: int = SEG_SIZE) -> tuple[np.ndarray, Letterbox]:
    """uint8 image -> float32 (1, size, size) letterboxed / 255, and its geometry."""
    lb, g = letterbox(image, size)
    return (lb.astype(np.float32) / np.float32(255.0))[None], g


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
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), rng.uniform(-self.rotation_deg, self.rotation_deg), rng.uniform(*self.scale))
        m[:, 2] += rng.uniform(-self.shift, self.shift, 2) * (w, h)
        warp = lambda a, interp: cv2.warpAffine(np.ascontiguousarray(a), m, (w, h), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        image = warp(image, cv2.INTER_LINEAR)
        if mask.ndim == 3:
            mask = np.stack([warp(c, cv2.INTER_NEAREST) for c in mask])
        else:
            mask = warp(mask, cv2.INTER_NEAREST)
        return image, mask


def preprocessing_spec(view: str | None = None) -> dict:
    """Machine-readable description of the rules above (goes into model cards)."""
    return {
        "dicom_to_uint8": {
            "method": "percentile-window",
            "low_percentile": 0.5,
            "high_percentile": 99.5,
            "rule": "lo = smallest v with count(values <= v) >= ceil(low/100*n), hi likewise; "
            "y = floor((round(v) - lo) * 255 / (hi - lo) + 0.5) clamped 0..255",
            "reference": "packages/imaging/src/window.ts toUint8 == training/preprocess.py to_uint8",
        },
        "disc_components": {
            "connectivity": 8,
            "min_area_rule": "keep components with area * 10 >= largest component area",
            "axial": "largest component (ties: first in raster order)",
            "sagittal": "two lowest components by mean row (centroid y) descending: L5-S1 and L4-L5",
            "selected": None if view is None else ("largest" if view == "axial" else "two-lowest"),
        },
        "bbox": {
            "margin_percent_each_side": BBOX_MARGIN_PERCENT_EACH_SIDE,
            "rule": "w = x1-x0+1; mx = (w+10)//20; X0 = max(0, x0-mx); X1 = min(cols-1, x1+mx); "
            "same for y with rows; inclusive bounds; crop = image[Y0..Y1, X0..X1]",
        },
        "resize": {
            "size": [CROP_SIZE, CROP_SIZE],
            "interpolation": RESIZE_INTERPOLATION,
            "rule": "per axis (src S, dst D): n = (2d+1)*S - D; n<0 -> i0=0,f=0 else i0=n//(2D), "
            "f=n-i0*2D; i0>=S-1 -> i0=S-1,f=0; i1=min(i0+1,S-1); w0=2D-f, w1=f; "
            "out = (wy0*(wx0*p00+wx1*p01) + wy1*(wx0*p10+wx1*p11) + den/2) // den, den=4*Dx*Dy",
            "aspect_ratio": "not kept (box stretched to 64x64)",
        },
        "clahe": {
            "clip_limit": CLAHE_CLIP_LIMIT,
            "tile_grid": list(CLAHE_TILES),
            "implementation": "cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4,4)).apply on the 64x64 uint8 crop; "
            "exact arithmetic in training/preprocess.py clahe_reference",
        },
        "channels": {"count": 3, "rule": "grey crop replicated to 3 identical channels"},
        "normalisation": "float32 = uint8 / 255",
    }


def seg_preprocessing_spec(size: int = SEG_SIZE, smooth_masks: bool = False, crop_size: int | None = None) -> dict:
    spec = {
        "dicom_to_uint8": preprocessing_spec()["dicom_to_uint8"],
        "letterbox": {
            "size": [size, size],
            "rule": "m = max(rows, cols); new_rows = max(1, (rows*S + m//2)//m); new_cols likewise; "
            "top = (S-new_rows)//2; left = (S-new_cols)//2; zero padding",
            "interpolation": RESIZE_INTERPOLATION
            + (
                " (image); training masks: the 0/1 map resized bilinearly (half-pixel, float) and kept where >= 0.5"
                if smooth_masks
                else " (image), nearest-half-pixel (masks: src = ((2d+1)*S)//(2D))"
            ),
        },
        "normalisation": "float32 = uint8 / 255",
        "channels": 1,
        "postprocessing": (
            "cut the letterbox area out of the disc probabilities, resize them bilinearly (half-pixel centres, "
            "float) to rows x cols, disc where probability > 0.5"
            if smooth_masks
            else "probability > 0.5 -> disc; cut the letterbox area out and nearest-resize back "
            "to rows x cols with src = ((2d+1)*S)//(2D)"
        ),
    }
    if crop_size and crop_size != size:
        spec["training_crops"] = {
            "size": [crop_size, crop_size],
            "rule": f"trained on random {crop_size}x{crop_size} crops of the {size}x{size} letterbox (after augmentation); "
            f"applied to the whole {size}x{size} letterbox (the U-Net is fully convolutional)",
        }
    return spec
