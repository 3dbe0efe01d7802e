import { resizeBilinear, type GrayImage } from '@lumbar/imaging';

/**
 * Out-of-distribution check for axial disc crops (models/ax-ood/ood.json, written by `python -m training.ood fit`;
 * the same features and score as training/ood.py, parity-tested in test/parity/ood.test.ts).
 *
 * Features: the 64x64 crop before CLAHE (`DiscCrop.resized`) resized to size x size (16) by the integer bilinear
 * rule, / 255, row-major. Score: the squared Mahalanobis distance under a probabilistic PCA of the training
 * crops, divided by the dimension D:
 *   d = x - mean; z_i = components_i . d; r = d - sum_i z_i components_i;
 *   score = (sum_i z_i^2 / variances_i + |r|^2 / residualVariance) / D
 * A crop scoring above `threshold` (the 0.99 quantile on held-out in-distribution crops) is out of distribution.
 */
export interface OodModel {
  /** For findings.json's model list: { name: 'ax-ood', version }. */
  card: { name: string; version: string };
  /** Side of the feature image (16). */
  size: number;
  mean: readonly number[];
  components: ReadonlyArray<readonly number[]>;
  variances: readonly number[];
  residualVariance: number;
  threshold: number;
}

/** What each classified axial slice carries (AxialEvidence.ood). */
export interface OodResult {
  score: number;
  threshold: number;
  outOfDistribution: boolean;
}

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

/**
 * The axial slice gate on one slice (models/ax-slice-gate, training/slice_gate.py): P(the slice cuts a vertebral
 * body or an endplate, not a disc) and P(T2-weighted), with the card's thresholds. A slice at or above the
 * not-disc threshold is dropped before classification; a slice below the T2 threshold is out of distribution
 * (the classifiers learnt T2 slices only).
 */
export interface GateResult {
  notDisc: number;
  t2: number;
  notDiscThreshold: number;
  t2Threshold: number;
  /** t2 < t2Threshold: not T2-weighted, so unlike the training data. */
  notT2: boolean;
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
