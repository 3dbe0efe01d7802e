import { resizeBilinear, type GrayImage } from '@lumbar/imaging';
import type { GateResult, OodModel, OodResult } from './types';

// Out-of-distribution check for axial disc crops: the model, its features and score are described with OodModel
// (types.ts).

/** The reason of a level whose axial evidence is all out of distribution. */
export const OOD_REASON = 'image unlike the training data';

/** The feature image: the crop before CLAHE resized to size x size (the same bytes as training/ood.py small). */
export function oodSmall(resized: GrayImage, size: number): GrayImage {
  return resizeBilinear(resized, size, size);
}

/** The feature vector of one crop (before CLAHE): size x size values / 255. */
export function oodFeatures(resized: GrayImage, size: number): Float64Array {
  const s = oodSmall(resized, size);
  const out = new Float64Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = s.data[i] / 255;
  return out;
}

/** The score of one feature vector (see OodModel). */
export function oodScore(model: OodModel, x: ArrayLike<number>): number {
  const dim = model.mean.length;
  if (x.length !== dim) throw new Error(`OOD features: ${x.length} values, the model has ${dim}`);
  const d = new Float64Array(dim);
  for (let j = 0; j < dim; j++) d[j] = x[j] - model.mean[j];
  const r = Float64Array.from(d);
  let m = 0;
  model.components.forEach((c, i) => {
    let z = 0;
    for (let j = 0; j < dim; j++) z += c[j] * d[j];
    m += (z * z) / model.variances[i];
    for (let j = 0; j < dim; j++) r[j] -= z * c[j];
  });
  let rr = 0;
  for (let j = 0; j < dim; j++) rr += r[j] * r[j];
  return (m + rr / model.residualVariance) / dim;
}

/** The OOD result of one crop (before CLAHE). */
export function oodCheck(model: OodModel, resized: GrayImage): OodResult {
  const score = oodScore(model, oodFeatures(resized, model.size));
  return { score, threshold: model.threshold, outOfDistribution: score > model.threshold };
}

/** One slice's evidence is out of distribution: by the crop check (ax-ood) or by the gate's contrast (not T2). */
export function outOfDistribution(e: { ood?: OodResult | null; gate?: GateResult | null }): boolean {
  return e.ood?.outOfDistribution === true || e.gate?.notT2 === true;
}

/** True when a level has axial evidence and every slice of it was checked and found out of distribution. */
export function allOutOfDistribution(
  evidence: ReadonlyArray<{ ood?: OodResult | null; gate?: GateResult | null }>,
): boolean {
  return evidence.length > 0 && evidence.every(outOfDistribution);
}
