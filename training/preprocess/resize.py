"""Resizing with integer arithmetic (reproducible everywhere), nearest neighbour, and bilinear for float maps.
TypeScript twin: ``packages/imaging/src/resize.ts``."""

from __future__ import annotations

import numpy as np

RESIZE_INTERPOLATION = "bilinear-half-pixel-integer"


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
