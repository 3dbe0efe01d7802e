import type { GrayImage } from './image';

/** A float32 tensor in row-major order with its shape (NCHW for images). */
export interface TensorData {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/**
 * uint8 image -> float32 (1, channels, H, W) = value / 255, grey replicated to every channel
 * (training/preprocess/tensor.py crop_to_input with a batch axis; float32 division, as numpy does it).
 */
export function toTensor(img: GrayImage, channels = 1): TensorData {
  const plane = img.width * img.height;
  const data = new Float32Array(channels * plane);
  for (let i = 0; i < plane; i++) data[i] = img.data[i] / 255;
  for (let c = 1; c < channels; c++) data.copyWithin(c * plane, 0, plane);
  return { data, dims: [1, channels, img.height, img.width] };
}

/** A label map from a label map: 1 where `labels == value` (e.g. SPIDER's 2 = disc), else 0. */
export function maskOf(labels: GrayImage, value: number): GrayImage {
  const out = new Uint8Array(labels.data.length);
  for (let i = 0; i < out.length; i++) out[i] = labels.data[i] === value ? 1 : 0;
  return { width: labels.width, height: labels.height, data: out };
}

/** Probabilities (H x W) -> binary mask: 1 where p > threshold (0.5 as in training). */
export function thresholdMask(
  prob: ArrayLike<number>,
  width: number,
  height: number,
  threshold = 0.5,
): GrayImage {
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = prob[i] > threshold ? 1 : 0;
  return { width, height, data: out };
}
