import {
  AXIAL_CLASSES,
  AXIAL_MIN_AREA_FRACTION,
  discLabel,
  type AxialClass,
  type DiscLevel,
} from '@lumbar/core';
import { classifierInput, type GrayImage } from '@lumbar/imaging';
import { CanonicalSlice, canonicalSlice } from './canonical';
import { assignAxialSlice, type LabelledDisc } from './geometry';
import { oodCheck } from './ood';
import { segmentBatch } from './segment';
import type { AxialEvidence, Models, SliceInput } from './types';

export interface AxialSliceResult {
  slice: CanonicalSlice;
  level: DiscLevel;
  /** Canonical mask, disc pixels painted with the level's label value. */
  mask: GrayImage;
  evidence: AxialEvidence;
  box: { x0: number; y0: number; x1: number; y1: number };
  /** The classifier's input for this slice (3 x 64 x 64); only with AxialStageOptions.capture. */
  input?: Float32Array;
}

export interface AxialStageOptions {
  /** Keep each slice's classifier input in its result (AxialSliceResult.input). */
  capture?: boolean;
}

/** Classifier output in AXIAL_CLASSES order, whatever order the model card lists its classes in. */
export function byClass(probs: ArrayLike<number>, classes: readonly string[]): Record<AxialClass, number> {
  const out = {} as Record<AxialClass, number>;
  for (const k of AXIAL_CLASSES) {
    const i = classes.indexOf(k);
    out[k] = i >= 0 ? probs[i] : 0;
  }
  return out;
}

/**
 * Axial stage: assign each slice to a disc level by geometry, segment the slices of the wanted levels
 * in one batch, crop the disc of each and classify all crops in one batch. With models.axialOod, each crop (before
 * CLAHE) also gets its out-of-distribution score (evidence.ood).
 */
export async function axialStage(
  slices: SliceInput[],
  discs: LabelledDisc[],
  levels: readonly DiscLevel[],
  models: Models,
  opts: AxialStageOptions = {},
): Promise<AxialSliceResult[]> {
  const assigned = slices
    .map((s) => ({ s, a: assignAxialSlice(s.plane, s.thickness, discs) }))
    .filter(
      (x): x is { s: SliceInput; a: NonNullable<typeof x.a> } => x.a !== null && levels.includes(x.a.level),
    );
  const canon = assigned.map((x) => canonicalSlice(x.s, 'axial'));
  const masks = await segmentBatch(models.axialSeg, canon);
  const crops = canon
    .map((c, i) => ({ i, input: classifierInput(c.image, masks[i], 'axial') }))
    .filter((x) => x.input);
  if (crops.length === 0) return [];
  const size = crops[0].input!.tensor.data.length;
  const batch = new Float32Array(crops.length * size);
  crops.forEach((x, k) => batch.set(x.input!.tensor.data, k * size));
  const out = await models.axialCls.run(batch, crops.length);
  const nClasses = models.axialCls.card.output.classes.length;
  return crops.map(({ i, input }, k) => {
    const { s, a } = assigned[i];
    const mask = masks[i];
    const label = discLabel(a.level);
    const painted = { width: mask.width, height: mask.height, data: mask.data.map((v) => (v ? label : 0)) };
    const discPixels = mask.data.reduce((n, v) => n + (v ? 1 : 0), 0);
    return {
      slice: canon[i],
      level: a.level,
      mask: painted,
      box: input!.box,
      evidence: {
        sopInstanceUid: s.sopInstanceUid,
        frame: s.frame,
        distanceMm: Math.round(a.distanceMm * 100) / 100,
        discAreaMm2: Math.round(discPixels * s.plane.spacing[0] * s.plane.spacing[1]),
        probabilities: byClass(
          out.data.subarray(k * nClasses, (k + 1) * nClasses),
          models.axialCls.card.output.classes,
        ),
        ...(models.axialOod ? { ood: oodCheck(models.axialOod, input!.resized) } : {}),
      },
      ...(opts.capture ? { input: input!.tensor.data } : {}),
    };
  });
}

/** How the axial slices of one level make one probability per class (FusionPolicy.axialAggregate). */
export type AxialAggregate = 'mean' | 'max-herniation';

const HERNIATION: readonly AxialClass[] = ['central', 'left', 'right'];

/**
 * The axial probabilities of one level from its slices whose disc area is at least AXIAL_MIN_AREA_FRACTION of
 * the largest (outer slices of a wedge-shaped disc miss its posterior margin); null without slices.
 * 'mean': disc-area-weighted mean over those slices.
 * 'max-herniation': a herniation shows on the slices that cut it, often one of three (docs/DATASET-LAYOUT.md),
 * so a mean dilutes it. The slice with the highest herniation probability (central + left + right) gives the
 * probability of herniation and its split between central, left and right; the rest is split between healthy
 * and bulge as their area-weighted means over the slices are (a bulge shows on every slice).
 */
export function levelAxial(
  results: AxialSliceResult[],
  level: DiscLevel,
  how: AxialAggregate = 'mean',
): Record<AxialClass, number> | null {
  return axialLevelEvidence(
    results.filter((r) => r.level === level).map((r) => r.evidence),
    how,
  );
}

/** The same over the evidence of one level's slices (as findings.json keeps it). */
export function axialLevelEvidence(
  all: AxialEvidence[],
  how: AxialAggregate = 'mean',
): Record<AxialClass, number> | null {
  const max = all.reduce((m, e) => Math.max(m, e.discAreaMm2), 0);
  const rs = all.filter((e) => e.discAreaMm2 >= AXIAL_MIN_AREA_FRACTION * max);
  const total = rs.reduce((s, e) => s + e.discAreaMm2, 0);
  if (rs.length === 0 || total <= 0) return null;
  const out = Object.fromEntries(AXIAL_CLASSES.map((k) => [k, 0])) as Record<AxialClass, number>;
  for (const e of rs) for (const k of AXIAL_CLASSES) out[k] += (e.probabilities[k] * e.discAreaMm2) / total;
  if (how === 'mean') return out;
  const pHern = (e: AxialEvidence) => HERNIATION.reduce((s, k) => s + e.probabilities[k], 0);
  const top = rs.reduce((a, b) => (pHern(b) > pHern(a) ? b : a));
  const h = Math.min(1, pHern(top));
  const rest = out.healthy + out.bulge;
  return {
    healthy: rest > 0 ? ((1 - h) * out.healthy) / rest : (1 - h) / 2,
    bulge: rest > 0 ? ((1 - h) * out.bulge) / rest : (1 - h) / 2,
    central: top.probabilities.central,
    left: top.probabilities.left,
    right: top.probabilities.right,
  };
}
