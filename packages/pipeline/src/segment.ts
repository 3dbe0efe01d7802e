import { InputError } from '@lumbar/core';
import { probToMask, SEG_SIZE, segmentationInput, type GrayImage, type SegUpsample } from '@lumbar/imaging';
import type { Predictor } from './types';

/** The square letterbox a U-Net's card asks for (input.shape [N, 1, S, S]); cards without a shape: 256. */
export function segmentationSize(model: Predictor): number {
  const shape = model.card.input?.shape;
  if (!shape) return SEG_SIZE;
  const [, , h, w] = shape;
  if (typeof h !== 'number' || h !== w || h < 1) {
    throw new InputError(
      `${model.card.name}: a segmentation model needs a square input, its card says ${JSON.stringify(shape)}`,
    );
  }
  return h;
}

/** Images per U-Net call: the whole batch at 256x256 (as before), one at a time on larger letterboxes. */
export function segBatchLimit(size: number): number {
  return size <= SEG_SIZE ? Number.MAX_SAFE_INTEGER : 1;
}

/**
 * Segments discs on a batch of canonical images with one model call: letterbox to the U-Net's input size
 * (from its card), take its first output channel (disc probability), and map it back to each slice's size
 * as the card's `output.upsample` says (threshold then nearest, or bilinear probabilities then threshold).
 */
export async function segmentBatch(
  model: Predictor,
  slices: Array<{ image: GrayImage }>,
): Promise<GrayImage[]> {
  if (slices.length === 0) return [];
  const size = segmentationSize(model);
  const inputs = slices.map((s) => segmentationInput(s.image, size));
  const [, , h, w] = inputs[0].tensor.dims;
  const plane = h * w;
  const threshold = model.card.output.threshold ?? 0.5;
  const upsample = (model.card.output.upsample ?? 'nearest-mask') as SegUpsample;
  // ONNX Runtime keeps its largest activation buffers: calls of at most segBatchLimit(size) images bound the
  // memory of the larger letterboxes at no cost in time (docs/BENCHMARKS.md, Pipeline: memory)
  const step = segBatchLimit(size);
  const masks: GrayImage[] = [];
  for (let at = 0; at < inputs.length; at += step) {
    const chunk = inputs.slice(at, at + step);
    const batch = new Float32Array(chunk.length * plane);
    chunk.forEach((x, i) => batch.set(x.tensor.data, i * plane));
    const out = await model.run(batch, chunk.length);
    const channels = out.dims[1] ?? 1;
    chunk.forEach((x, i) => {
      const prob = out.data.subarray(i * channels * plane, i * channels * plane + plane);
      masks.push(probToMask(prob, x.geometry, upsample, threshold));
    });
  }
  return masks;
}
/** Per-component centroid (x, y) and pixel count of a binary mask's 8-connected components. */
export function componentCentroids(
  labels: Int32Array,
  width: number,
  count: number,
): Array<{ x: number; y: number; n: number }> {
  const acc = Array.from({ length: count + 1 }, () => ({ x: 0, y: 0, n: 0 }));
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!l) continue;
    acc[l].x += i % width;
    acc[l].y += Math.floor(i / width);
    acc[l].n++;
  }
  return acc.map((a) => (a.n ? { x: a.x / a.n, y: a.y / a.n, n: a.n } : a));
}
