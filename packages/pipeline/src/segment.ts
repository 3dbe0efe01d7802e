import { segmentationInput, thresholdMask, unletterboxMask, type GrayImage } from '@lumbar/imaging';
import type { Predictor } from './types';

/**
 * Segments discs on a batch of canonical images with one model call: letterbox to the U-Net's input,
 * threshold its first output channel (disc probability), and map the mask back to each slice's size.
 */
export async function segmentBatch(
  model: Predictor,
  slices: Array<{ image: GrayImage }>,
): Promise<GrayImage[]> {
  if (slices.length === 0) return [];
  const inputs = slices.map((s) => segmentationInput(s.image));
  const [, , h, w] = inputs[0].tensor.dims;
  const plane = h * w;
  const batch = new Float32Array(slices.length * plane);
  inputs.forEach((x, i) => batch.set(x.tensor.data, i * plane));
  const out = await model.run(batch, slices.length);
  const channels = out.dims[1] ?? 1;
  const threshold = model.card.output.threshold ?? 0.5;
  return inputs.map((x, i) => {
    const prob = out.data.subarray(i * channels * plane, i * channels * plane + plane);
    return unletterboxMask(thresholdMask(prob, w, h, threshold), x.geometry);
  });
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
