import {
  AXIAL_CLASSES,
  AXIAL_MIN_AREA_FRACTION,
  discLabel,
  type AxialClass,
  type DiscLevel,
} from '@lumbar/core';
import { classifierInput, gateInput, type GrayImage } from '@lumbar/imaging';
import { CanonicalSlice, canonicalSlice } from './canonical';
import { assignAxialSlice, type LabelledDisc } from './geometry';
import { oodCheck } from './ood';
import { segmentBatch } from './segment';
import type { AxialAggregate, AxialEvidence, GateResult, Models, Predictor, SliceInput } from './types';

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
  /** Slices the slice gate (models.axialGate) found to cut no disc are listed here. */
  dropped?: GateDrop[];
}

/** An axial slice the slice gate dropped: it cuts a vertebral body or an endplate, not a disc. */
export interface GateDrop {
  sopInstanceUid: string;
  frame: number;
  level: DiscLevel;
  gate: GateResult;
}

/**
 * The slice gate on each segmented slice (null where the U-Net found nothing): one batch, the card's contexts
 * and thresholds (packages/imaging gateInput; training/slice_gate.py).
 */
export async function gateSlices(
  gate: Predictor,
  canon: ReadonlyArray<{ image: GrayImage }>,
  masks: readonly GrayImage[],
): Promise<Array<GateResult | null>> {
  const contexts = (gate.card as unknown as { preprocessing: { contexts_tenths: number[] } }).preprocessing
    .contexts_tenths;
  const t = gate.card.output.thresholds ?? {};
  const inputs = canon.map((c, i) => gateInput(c.image, masks[i], contexts));
  const present = inputs.flatMap((x, i) => (x ? [{ i, x }] : []));
  const out: Array<GateResult | null> = inputs.map(() => null);
  if (present.length === 0) return out;
  const size = present[0].x.tensor.data.length;
  const batch = new Float32Array(present.length * size);
  present.forEach(({ x }, k) => batch.set(x.tensor.data, k * size));
  const res = await gate.run(batch, present.length);
  const nOut = gate.card.output.classes.length;
  const iNot = gate.card.output.classes.indexOf('not_disc');
  const iT2 = gate.card.output.classes.indexOf('t2');
  present.forEach(({ i }, k) => {
    const notDisc = res.data[k * nOut + iNot];
    const t2 = res.data[k * nOut + iT2];
    out[i] = {
      notDisc: round4(notDisc),
      t2: round4(t2),
      notDiscThreshold: t.not_disc,
      t2Threshold: t.t2,
      notT2: t2 < t.t2,
    };
  });
  return out;
}

const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;
const EMPTY = (m: GrayImage): GrayImage => ({
  width: m.width,
  height: m.height,
  data: new Uint8Array(m.data.length),
});

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
 * CLAHE) also gets its out-of-distribution score (evidence.ood). With models.axialGate, a slice the gate finds to cut
 * no disc (a vertebral body or an endplate) loses its disc mask before cropping (listed in opts.dropped), and every
 * other slice carries the gate's probabilities (evidence.gate; not T2-weighted = out of distribution).
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
  const gates = models.axialGate ? await gateSlices(models.axialGate, canon, masks) : masks.map(() => null);
  gates.forEach((g, i) => {
    if (!g || g.notDisc < g.notDiscThreshold) return;
    masks[i] = EMPTY(masks[i]);
    const { s, a } = assigned[i];
    opts.dropped?.push({ sopInstanceUid: s.sopInstanceUid, frame: s.frame, level: a.level, gate: g });
  });
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
        ...(gates[i] ? { gate: gates[i]! } : {}),
      },
      ...(opts.capture ? { input: input!.tensor.data } : {}),
    };
  });
}

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
