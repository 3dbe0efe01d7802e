import { InputError } from '@lumbar/core';

/** A single-channel 8-bit image, row-major: pixel (x, y) is `data[y * width + x]`. Masks use it too. */
export interface GrayImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Inclusive pixel box: columns x0..x1, rows y0..y1. */
export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** A GrayImage over `data` (or a new zeroed buffer); throws when the sizes do not agree. */
export function grayImage(width: number, height: number, data?: Uint8Array): GrayImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new InputError(`image size must be non-negative integers, got ${width}x${height}`);
  }
  const buf = data ?? new Uint8Array(width * height);
  if (buf.length !== width * height) {
    throw new InputError(`image ${width}x${height} needs ${width * height} pixels, got ${buf.length}`);
  }
  return { width, height, data: buf };
}

/** The pixels inside `box` (inclusive), copied: Python's `image[y0:y1+1, x0:x1+1]`. */
export function cropImage(img: GrayImage, box: Box): GrayImage {
  const { x0, y0, x1, y1 } = box;
  if (x0 < 0 || y0 < 0 || x1 >= img.width || y1 >= img.height || x1 < x0 || y1 < y0) {
    throw new InputError(`box ${x0},${y0}..${x1},${y1} is not inside a ${img.width}x${img.height} image`);
  }
  const w = x1 - x0 + 1;
  const out = new Uint8Array(w * (y1 - y0 + 1));
  for (let y = y0; y <= y1; y++)
    out.set(img.data.subarray(y * img.width + x0, y * img.width + x1 + 1), (y - y0) * w);
  return { width: w, height: y1 - y0 + 1, data: out };
}
