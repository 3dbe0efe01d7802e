import { InputError } from '@lumbar/core';
import type { GrayImage } from './image';
import { resizeBilinear, resizeBilinearFloat, resizeNearest } from './resize';
import { thresholdMask } from './tensor';

/** The U-Nets' input size. */
export const SEG_SIZE = 256;

/** Where a `width` x `height` image lies inside the square `size` x `size` canvas. */
export interface LetterboxGeometry {
  readonly width: number;
  readonly height: number;
  readonly size: number;
  readonly newWidth: number;
  readonly newHeight: number;
  readonly top: number;
  readonly left: number;
}

/**
 * m = max(rows, cols); newRows = max(1, (rows*size + m//2) // m), newCols likewise;
 * top = (size - newRows) // 2; left = (size - newCols) // 2
 * (training/preprocess/letterbox.py letterbox_geometry).
 */
export function letterboxGeometry(width: number, height: number, size = SEG_SIZE): LetterboxGeometry {
  if (width < 1 || height < 1) throw new InputError(`cannot letterbox an empty ${width}x${height} image`);
  const m = Math.max(width, height);
  const half = Math.floor(m / 2);
  const newHeight = Math.max(1, Math.floor((height * size + half) / m));
  const newWidth = Math.max(1, Math.floor((width * size + half) / m));
  return {
    width,
    height,
    size,
    newWidth,
    newHeight,
    top: Math.floor((size - newHeight) / 2),
    left: Math.floor((size - newWidth) / 2),
  };
}

/** Resizes keeping the aspect ratio (bilinear; nearest for label maps) onto a zero `size` x `size` canvas. */
export function letterbox(
  img: GrayImage,
  size = SEG_SIZE,
  opts: { nearest?: boolean } = {},
): { image: GrayImage; geometry: LetterboxGeometry } {
  const g = letterboxGeometry(img.width, img.height, size);
  const r = opts.nearest
    ? resizeNearest(img, g.newWidth, g.newHeight)
    : resizeBilinear(img, g.newWidth, g.newHeight);
  const out = new Uint8Array(size * size);
  for (let y = 0; y < g.newHeight; y++) {
    out.set(r.data.subarray(y * g.newWidth, (y + 1) * g.newWidth), (g.top + y) * size + g.left);
  }
  return { image: { width: size, height: size, data: out }, geometry: g };
}

/** Inverse of `letterbox` for a label map: cut the image area out and nearest-resize it back. */
export function unletterboxMask(mask: GrayImage, g: LetterboxGeometry): GrayImage {
  if (mask.width !== g.size || mask.height !== g.size) {
    throw new InputError(`mask is ${mask.width}x${mask.height}, the letterbox is ${g.size}x${g.size}`);
  }
  const inner = new Uint8Array(g.newWidth * g.newHeight);
  for (let y = 0; y < g.newHeight; y++) {
    const from = (g.top + y) * g.size + g.left;
    inner.set(mask.data.subarray(from, from + g.newWidth), y * g.newWidth);
  }
  return resizeNearest({ width: g.newWidth, height: g.newHeight, data: inner }, g.width, g.height);
}

/**
 * Inverse of `letterbox` for a U-Net's probabilities (size x size): cut the image area out and resize it
 * bilinearly (resizeBilinearFloat) to the image's own size
 * (training/preprocess/letterbox.py unletterbox_prob).
 */
export function unletterboxProb(prob: ArrayLike<number>, g: LetterboxGeometry): Float64Array {
  if (prob.length !== g.size * g.size) {
    throw new InputError(`${prob.length} probabilities, the letterbox is ${g.size}x${g.size}`);
  }
  const inner = new Float64Array(g.newWidth * g.newHeight);
  for (let y = 0; y < g.newHeight; y++) {
    const from = (g.top + y) * g.size + g.left;
    for (let x = 0; x < g.newWidth; x++) inner[y * g.newWidth + x] = prob[from + x];
  }
  return resizeBilinearFloat(inner, g.newWidth, g.newHeight, g.width, g.height);
}

/** How a U-Net's probabilities go back to the image's size (model card `output.upsample`). */
export type SegUpsample = 'nearest-mask' | 'bilinear-probability';

/**
 * A U-Net's probabilities on the letterbox canvas -> a 0/1 mask of the image's size, as the card says:
 * 'nearest-mask' (threshold, then nearest-resize the mask; cards without the key) or 'bilinear-probability'
 * (resize the probabilities bilinearly, then threshold): training/preprocess/letterbox.py prob_to_mask.
 */
export function probToMask(
  prob: ArrayLike<number>,
  g: LetterboxGeometry,
  upsample: SegUpsample = 'nearest-mask',
  threshold = 0.5,
): GrayImage {
  if (upsample === 'bilinear-probability')
    return thresholdMask(unletterboxProb(prob, g), g.width, g.height, threshold);
  if (upsample !== 'nearest-mask') throw new InputError(`unknown output.upsample ${String(upsample)}`);
  if (prob.length !== g.size * g.size) {
    throw new InputError(`${prob.length} probabilities, the letterbox is ${g.size}x${g.size}`);
  }
  return unletterboxMask(thresholdMask(prob, g.size, g.size, threshold), g);
}
