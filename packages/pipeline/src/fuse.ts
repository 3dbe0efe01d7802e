import { AXIAL_CLASSES, AxialClass, SAGITTAL_CLASSES } from '@lumbar/core';
import { OOD_REASON } from './ood';
import type { AxialAggregate, Diagnosis } from './types';

export type AxialProbs = Record<AxialClass, number>;

export interface LevelEvidence {
  /** Sagittal classifier: probability that this level is herniated (null when no sagittal result). */
  sagittalHerniation: number | null;
  /** Axial classifier output over the slices assigned to this level (FusionPolicy.axialAggregate; null when none). */
  axial: AxialProbs | null;
  /** Every axial slice of this level was out of distribution (packages/pipeline/src/ood.ts); absent: false. */
  axialOutOfDistribution?: boolean;
  /** Axial slices of this level the slice gate dropped (they cut a vertebral body or an endplate); absent: 0. */
  axialSlicesWithoutDisc?: number;
}

export interface FusedLevel {
  diagnosis: Diagnosis;
  probabilities: AxialProbs;
  /** Why the result is indeterminate, or null. */
  reason: string | null;
}

export interface FusionPolicy {
  /** Weight of the sagittal view in the probability of herniation (the axial view has 1 - w). */
  sagittalWeight: number;
  /** Below this top probability the finding is indeterminate. */
  minConfidence: number;
  /** Views disagree when their herniation probabilities differ by more than this. */
  maxDisagreement: number;
  /** How the sagittal herniation probabilities of the candidate slices make one per level. */
  sagittalAggregate: 'max' | 'mean' | 'top2';
  /** How the axial slices of a level make one probability per class (packages/pipeline/src/axial.ts). */
  axialAggregate: AxialAggregate;
}

/**
 * Chosen on 40 tuning studies of the phantom (seed fusion-tune, never the evaluation seed) with
 * `node packages/cli/dist/main.js tune-fusion DIR` and the 0.3.0 models (ax-cls-discnet 0.3.0, sag-seg-unet 0.2.0): the
 * policy ranked first (per-level accuracy 0.925, 1 of 80 levels indeterminate; ties broken by grid order).
 * ax-cls-discnet 0.3.0 learnt that a slice which does not cut a herniation looks healthy, so the axial slices
 * of a level are combined by 'max-herniation' (the mean scored 0.825 with it). The sagittal view gets a
 * weight of 0.2 (0.2 to 0.5 tied; 0 scored 0.9125); the disagreement rule stays off (1.01 > any difference).
 * 0.2.0 (ax-cls-discnet 0.2.0, 'mean', sagittal weight 0) scored 0.9375 on the same studies.
 * With sag-seg-unet 0.3.0 (algorithm 0.4.0) this policy scores 0.9375 there and the grid's best 0.95 (sagittal
 * weight 0.3-0.5): kept, one level of 80 not being worth more weight on a sagittal classifier near chance on
 * real slices (docs/BENCHMARKS.md, fusion policy table).
 * With the sagittal grader (models/sag-grading 0.1.0, learnt from real SPIDER grades) the sagittal herniation
 * probability is the grader's, and this policy ranks first on the same tuning studies (0.95; weight 0: 0.925;
 * 0.5: 0.9125): kept. Who decided what: the weight is the phantom's choice (no real study here has both views
 * with labels); the grader's herniation threshold (its flag) was chosen on held-out real SPIDER patients.
 * With ax-seg-unet 0.2.0 and ax-cls-discnet 0.4.0 (algorithm 0.5.0) it still ranks first there (0.90).
 */
export const DEFAULT_FUSION: FusionPolicy = {
  sagittalWeight: 0.2,
  minConfidence: 0.4,
  maxDisagreement: 1.01,
  sagittalAggregate: 'max',
  axialAggregate: 'max-herniation',
};

/** One probability from several slices: the highest, the mean, or the mean of the two highest. */
export function aggregate(values: number[], how: FusionPolicy['sagittalAggregate']): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => b - a);
  if (how === 'max') return sorted[0];
  const take = how === 'top2' ? sorted.slice(0, 2) : sorted;
  return take.reduce((a, b) => a + b, 0) / take.length;
}

const HERNIATED: readonly AxialClass[] = ['central', 'left', 'right'];

/**
 * Fuses both views for one level. The sagittal classifier says whether the level is herniated; the
 * axial classifier says how (bulge, central) and on which side (the patient's). The probability of
 * herniation is a weighted mean of both views; its split between central/left/right, and the split of
 * the rest between healthy and bulge, come from the axial view. When every axial slice of the level is out of
 * distribution (evidence.axialOutOfDistribution) the finding is indeterminate with OOD_REASON.
 */
export function fuseLevel(e: LevelEvidence, policy: FusionPolicy = DEFAULT_FUSION): FusedLevel {
  const ax = e.axial;
  if (!ax) {
    const p = e.sagittalHerniation ?? 0;
    return {
      diagnosis: 'indeterminate',
      probabilities: { healthy: 1 - p, bulge: 0, central: 0, left: 0, right: 0 },
      reason: e.axialSlicesWithoutDisc
        ? `no axial slice through this disc: the ${e.axialSlicesWithoutDisc} axial slice(s) here cut a vertebral body or an endplate (slice gate), so the type and side of a herniation cannot be told`
        : 'no axial slice through this disc: the type and side of a herniation cannot be told',
    };
  }
  const axHern = HERNIATED.reduce((s, k) => s + ax[k], 0);
  const sag = e.sagittalHerniation;
  const pHern = sag === null ? axHern : policy.sagittalWeight * sag + (1 - policy.sagittalWeight) * axHern;
  const split = (keys: readonly AxialClass[], total: number): Partial<AxialProbs> => {
    const s = keys.reduce((a, k) => a + ax[k], 0);
    return Object.fromEntries(keys.map((k) => [k, s > 0 ? (total * ax[k]) / s : total / keys.length]));
  };
  const probabilities = {
    ...split(['healthy', 'bulge'], 1 - pHern),
    ...split(HERNIATED, pHern),
  } as AxialProbs;
  const ranked = AXIAL_CLASSES.map((k) => [k, probabilities[k]] as const).sort((a, b) => b[1] - a[1]);
  const [top, pTop] = ranked[0];
  let reason: string | null = null;
  if (e.axialOutOfDistribution) reason = OOD_REASON;
  else if (sag === null) reason = 'no sagittal result for this level: the axial view alone is not enough';
  else if (Math.abs(sag - axHern) > policy.maxDisagreement) {
    reason = `the views disagree: sagittal herniation ${sag.toFixed(2)}, axial ${axHern.toFixed(2)}`;
  } else if (pTop < policy.minConfidence) reason = `low confidence: best class ${top} at ${pTop.toFixed(2)}`;
  return { diagnosis: reason ? 'indeterminate' : top, probabilities, reason };
}

/** Sagittal classifier output (healthy / L4-L5 / L5-S1) to a herniation probability per level. */
export function sagittalByLevel(
  probs: ArrayLike<number>,
  classes: readonly string[] = SAGITTAL_CLASSES,
): Record<string, number> {
  const out: Record<string, number> = {};
  classes.forEach((c, i) => {
    if (c !== 'healthy') out[c] = probs[i];
  });
  return out;
}

/** The report line: "L5/S1 herniation, left; L4/L5 disc bulge" or "No disc herniation at L4/L5 or L5/S1". */
export function summarise(levels: Array<{ level: string; diagnosis: Diagnosis }>): string {
  const name = (l: string) => l.replace('-', '/');
  const parts = levels
    .filter((l) => l.diagnosis !== 'healthy')
    .map((l) => {
      if (l.diagnosis === 'bulge') return `${name(l.level)} disc bulge`;
      if (l.diagnosis === 'indeterminate') return `${name(l.level)} indeterminate`;
      return `${name(l.level)} herniation, ${l.diagnosis}`;
    });
  return parts.length
    ? parts.join('; ')
    : `No disc herniation or bulge at ${levels.map((l) => name(l.level)).join(' or ')}`;
}
