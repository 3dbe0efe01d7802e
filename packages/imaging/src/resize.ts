import { InputError } from '@lumbar/core';
import type { GrayImage } from './image';

/**
 * Resizing with integer arithmetic only, so TypeScript and Python (training/preprocess/resize.py
 * `resize_bilinear_u8`, `resize_nearest`) give the same bytes. Both use half-pixel centres.
 */

interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Int32Array;
  w1: Int32Array;
}

/** Per output index d, weights on the scale 2*dst: n = (2d+1)*src - dst, i0 = n // 2dst, f = n - i0*2dst. */
export function bilinearAxis(src: number, dst: number): AxisTaps {
  const den = 2 * dst;
  const taps: AxisTaps = {
    i0: new Int32Array(dst),
    i1: new Int32Array(dst),
    w0: new Int32Array(dst),
    w1: new Int32Array(dst),
  };
  for (let d = 0; d < dst; d++) {
    const n = (2 * d + 1) * src - dst;
    let i0 = 0;
    let f = 0;
    if (n >= 0) {
      i0 = Math.floor(n / den); // exact: n and den are small integers
      f = n - i0 * den;
    }
    if (i0 >= src - 1) {
      i0 = src - 1;
      f = 0;
    }
    taps.i0[d] = i0;
    taps.i1[d] = Math.min(i0 + 1, src - 1);
    taps.w0[d] = den - f;
    taps.w1[d] = f;
  }
  return taps;
}

function checkSizes(img: GrayImage, width: number, height: number): void {
  if (img.width < 1 || img.height < 1) throw new InputError('cannot resize an empty image');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InputError(`resize target must be positive integers, got ${width}x${height}`);
  }
}

/**
 * Bilinear resize to `width` x `height`, exact integers, rounded half up:
 * out = (wy0*(wx0*p00 + wx1*p01) + wy1*(wx0*p10 + wx1*p11) + den/2) // den, den = (2*height)*(2*width).
 * Equal to cv2.INTER_LINEAR up to one grey level (cv2 rounds its weights to 11 bits).
 */
export function resizeBilinear(img: GrayImage, width: number, height: number): GrayImage {
  checkSizes(img, width, height);
  const xs = bilinearAxis(img.width, width);
  const ys = bilinearAxis(img.height, height);
  const den = 4 * width * height;
  const half = den / 2;
  const src = img.data;
  const sw = img.width;
  const out = new Uint8Array(width * height);
  // Largest numerator: 255 * den, below 2^53 for any image that fits in memory: exact in doubles.
  for (let y = 0; y < height; y++) {
    const r0 = ys.i0[y] * sw;
    const r1 = ys.i1[y] * sw;
    const wy0 = ys.w0[y];
    const wy1 = ys.w1[y];
    for (let x = 0; x < width; x++) {
      const a = xs.i0[x];
      const b = xs.i1[x];
      const wx0 = xs.w0[x];
      const wx1 = xs.w1[x];
      const top = wx0 * src[r0 + a] + wx1 * src[r0 + b];
      const bot = wx0 * src[r1 + a] + wx1 * src[r1 + b];
      const num = top * wy0 + bot * wy1 + half;
      out[y * width + x] = (num - (num % den)) / den;
    }
  }
  return { width, height, data: out };
}

/** Source index of each output index for nearest-neighbour: ((2d+1)*src) // (2*dst). */
export function nearestAxis(src: number, dst: number): Int32Array {
  const idx = new Int32Array(dst);
  for (let d = 0; d < dst; d++) idx[d] = Math.floor(((2 * d + 1) * src) / (2 * dst));
  return idx;
}

/** Nearest-neighbour resize with half-pixel centres (label maps, masks). */
export function resizeNearest(img: GrayImage, width: number, height: number): GrayImage {
  checkSizes(img, width, height);
  const xs = nearestAxis(img.width, width);
  const ys = nearestAxis(img.height, height);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = ys[y] * img.width;
    for (let x = 0; x < width; x++) out[y * width + x] = img.data[row + xs[x]];
  }
  return { width, height, data: out };
}

/**
 * Bilinear resize of a float map (a U-Net's probabilities), half-pixel centres, in float64
 * (training/preprocess/resize.py resize_bilinear_float: the same operations in the same order, so the same
 * values).
 * Per axis: s = ((d + 0.5) * src) / dst - 0.5 clamped to [0, src - 1]; i0 = floor(s), i1 = min(i0 + 1, src - 1),
 * f = s - i0. Along x first: r = a[y][x0] * (1 - fx) + a[y][x1] * fx; then along y: r[y0] * (1 - fy) + r[y1] * fy.
 */
export function resizeBilinearFloat(
  src: ArrayLike<number>,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Float64Array {
  if (src.length !== width * height)
    throw new RangeError(`${src.length} values for a ${width}x${height} map`);
  const axis = (n: number, m: number) => {
    const i0 = new Int32Array(m);
    const i1 = new Int32Array(m);
    const f = new Float64Array(m);
    for (let d = 0; d < m; d++) {
      let s = ((d + 0.5) * n) / m - 0.5;
      if (s < 0) s = 0;
      if (s > n - 1) s = n - 1;
      const k = Math.floor(s);
      i0[d] = k;
      i1[d] = Math.min(k + 1, n - 1);
      f[d] = s - k;
    }
    return { i0, i1, f };
  };
  const xs = axis(width, outWidth);
  const ys = axis(height, outHeight);
  // the x pass for every input row (as numpy computes it), then the y pass
  const rows = new Float64Array(height * outWidth);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < outWidth; x++) {
      const fx = xs.f[x];
      rows[y * outWidth + x] = src[base + xs.i0[x]] * (1.0 - fx) + src[base + xs.i1[x]] * fx;
    }
  }
  const out = new Float64Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const a = ys.i0[y] * outWidth;
    const b = ys.i1[y] * outWidth;
    const fy = ys.f[y];
    for (let x = 0; x < outWidth; x++) out[y * outWidth + x] = rows[a + x] * (1.0 - fy) + rows[b + x] * fy;
  }
  return out;
}
