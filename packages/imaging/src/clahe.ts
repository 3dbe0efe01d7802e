import { InputError } from '@lumbar/core';
import type { GrayImage } from './image';

/** Paper, "ROI Enhancement": CLAHE with clip limit 2.0 on a 4x4 tile grid, on the 64x64 crop. */
export const CLAHE_CLIP_LIMIT = 2.0;
export const CLAHE_TILES = { x: 4, y: 4 } as const;

export interface ClaheOptions {
  /** OpenCV's clipLimit (default 2.0). */
  clipLimit?: number;
  /** Tile grid, OpenCV's tileGridSize = (x, y) (default 4x4). */
  tilesX?: number;
  tilesY?: number;
}

const f32 = Math.fround;

/** Round half to even (cvRound, numpy rint). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const clamp255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** One tile's clipped, redistributed histogram turned into a lookup table (float32 arithmetic). */
function tileLut(
  img: GrayImage,
  tx: number,
  ty: number,
  tw: number,
  th: number,
  limit: number,
): Float32Array {
  const hist = new Int32Array(256);
  for (let y = ty * th; y < (ty + 1) * th; y++) {
    const row = y * img.width;
    for (let x = tx * tw; x < (tx + 1) * tw; x++) hist[img.data[row + x]]++;
  }
  let clipped = 0;
  for (let i = 0; i < 256; i++) {
    if (hist[i] > limit) {
      clipped += hist[i] - limit;
      hist[i] = limit;
    }
  }
  const batch = Math.floor(clipped / 256);
  let residual = clipped - batch * 256;
  for (let i = 0; i < 256; i++) hist[i] += batch;
  if (residual > 0) {
    const step = Math.max(Math.floor(256 / residual), 1);
    for (let i = 0; i < 256 && residual > 0; i += step, residual--) hist[i]++;
  }
  const scale = f32(255 / (tw * th));
  const lut = new Float32Array(256);
  let sum = 0;
  for (let i = 0; i < 256; i++) {
    sum += hist[i];
    lut[i] = clamp255(roundHalfEven(f32(f32(sum) * scale)));
  }
  return lut;
}

/** Per pixel index along one axis: the two tiles and the float32 weight of the second. */
function axisTaps(n: number, t: number, count: number): { i1: Int32Array; i2: Int32Array; a: Float32Array } {
  const i1 = new Int32Array(n);
  const i2 = new Int32Array(n);
  const a = new Float32Array(n);
  const inv = f32(1 / t); // OpenCV multiplies by 1.0f / tileSize (numpy's reference divides: equal when t is a power of 2)
  for (let p = 0; p < n; p++) {
    const f = f32(f32(p * inv) - 0.5);
    const lo = Math.floor(f);
    a[p] = f32(f - lo);
    i2[p] = Math.min(lo + 1, count - 1);
    i1[p] = Math.max(lo, 0);
  }
  return { i1, i2, a };
}

/** OpenCV's borderInterpolate for BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba). */
function reflect101(p: number, len: number): number {
  if (len === 1) return 0;
  while (p < 0 || p >= len) p = p < 0 ? -p : 2 * (len - 1) - p;
  return p;
}

/** What OpenCV builds the tile histograms from: the image padded (reflect 101) to a multiple of the grid. */
function padToGrid(img: GrayImage, tilesX: number, tilesY: number): GrayImage {
  if (img.width % tilesX === 0 && img.height % tilesY === 0) return img;
  const width = img.width + tilesX - (img.width % tilesX);
  const height = img.height + tilesY - (img.height % tilesY);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = reflect101(y, img.height) * img.width;
    for (let x = 0; x < width; x++) data[y * width + x] = img.data[row + reflect101(x, img.width)];
  }
  return { width, height, data };
}

/**
 * CLAHE as OpenCV computes it (cv2.createCLAHE(clipLimit, tileGridSize).apply), in plain TypeScript:
 * a port of training/preprocess/clahe.py `clahe_reference`, float32 rounding reproduced with Math.fround.
 * Like OpenCV, an image whose size does not divide by the grid is padded (reflect 101) for the tile
 * histograms; numpy's reference refuses those sizes. Tested equal to OpenCV on 64x64 crops and other sizes.
 */
export function claheReference(img: GrayImage, opts: ClaheOptions = {}): GrayImage {
  const clipLimit = opts.clipLimit ?? CLAHE_CLIP_LIMIT;
  const tilesX = opts.tilesX ?? CLAHE_TILES.x;
  const tilesY = opts.tilesY ?? CLAHE_TILES.y;
  const { width: cols, height: rows } = img;
  if (rows === 0 || cols === 0) throw new InputError('CLAHE of an empty image');
  if (!(clipLimit > 0) || !(tilesX >= 1 && tilesY >= 1)) {
    throw new InputError(`CLAHE needs clipLimit > 0 and a tile grid of at least 1x1`);
  }
  const padded = padToGrid(img, tilesX, tilesY);
  const th = padded.height / tilesY;
  const tw = padded.width / tilesX;
  const limit = Math.max(1, Math.trunc((clipLimit * tw * th) / 256));
  const luts: Float32Array[] = [];
  for (let ty = 0; ty < tilesY; ty++) {
    for (let tx = 0; tx < tilesX; tx++) luts.push(tileLut(padded, tx, ty, tw, th, limit));
  }
  const ys = axisTaps(rows, th, tilesY);
  const xs = axisTaps(cols, tw, tilesX);
  const out = new Uint8Array(rows * cols);
  for (let y = 0; y < rows; y++) {
    const ya = ys.a[y];
    const ya1 = f32(1 - ya);
    const top = ys.i1[y] * tilesX;
    const bottom = ys.i2[y] * tilesX;
    for (let x = 0; x < cols; x++) {
      const v = img.data[y * cols + x];
      const xa = xs.a[x];
      const xa1 = f32(1 - xa);
      const l11 = luts[top + xs.i1[x]][v];
      const l12 = luts[top + xs.i2[x]][v];
      const l21 = luts[bottom + xs.i1[x]][v];
      const l22 = luts[bottom + xs.i2[x]][v];
      const upper = f32(f32(f32(l11 * xa1) + f32(l12 * xa)) * ya1);
      const lower = f32(f32(f32(l21 * xa1) + f32(l22 * xa)) * ya);
      out[y * cols + x] = clamp255(roundHalfEven(f32(upper + lower)));
    }
  }
  return { width: cols, height: rows, data: out };
}
