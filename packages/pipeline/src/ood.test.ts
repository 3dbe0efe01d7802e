// The out-of-distribution rule: a level whose axial evidence is all out of distribution is indeterminate with the
// reason "image unlike the training data"; a level with at least one in-distribution slice (or no OOD model) is
// fused as before. The score is training/ood.py's (exact parity: test/parity/ood.test.ts).
import { axialLevelEvidence } from './axial';
import { DEFAULT_FUSION, fuseLevel } from './fuse';
import { allOutOfDistribution, OOD_REASON, oodCheck, oodFeatures, oodScore } from './ood';
import type { OodModel } from './types';
import type { AxialEvidence } from './types';

const slice = (area: number, left: number, ood?: boolean): AxialEvidence => ({
  sopInstanceUid: `1.2.3.${area}`,
  frame: 0,
  distanceMm: 0,
  discAreaMm2: area,
  probabilities: { healthy: 1 - left - 0.02, bulge: 0.02, central: 0, left, right: 0 },
  ...(ood === undefined ? {} : { ood: { score: ood ? 5 : 0.5, threshold: 2, outOfDistribution: ood } }),
});

/** The level's finding as analyzeStudy makes it from its evidence. */
const finding = (evidence: AxialEvidence[]) =>
  fuseLevel(
    {
      sagittalHerniation: 0.9,
      axial: axialLevelEvidence(evidence, DEFAULT_FUSION.axialAggregate),
      axialOutOfDistribution: allOutOfDistribution(evidence),
    },
    DEFAULT_FUSION,
  );

describe('the out-of-distribution rule', () => {
  it('makes a level indeterminate when all its axial slices are out of distribution', () => {
    const f = finding([slice(1000, 0.9, true), slice(1200, 0.85, true)]);
    expect(f.diagnosis).toBe('indeterminate');
    expect(f.reason).toBe(OOD_REASON);
    expect(OOD_REASON).toBe('image unlike the training data');
    // the probabilities are still those of the fusion
    expect(f.probabilities).toEqual(finding([slice(1000, 0.9), slice(1200, 0.85)]).probabilities);
  });

  it('keeps the fusion when one slice is in distribution, or without the OOD model', () => {
    const mixed = finding([slice(1000, 0.9, true), slice(1200, 0.85, false)]);
    expect(mixed.diagnosis).toBe('left');
    expect(mixed.reason).toBeNull();
    expect(finding([slice(1000, 0.9), slice(1200, 0.85)]).diagnosis).toBe('left');
    expect(finding([slice(1000, 0.9, false)]).diagnosis).toBe('left');
    // a slice without an OOD result does not count as out of distribution
    expect(allOutOfDistribution([slice(1000, 0.9, true), slice(1200, 0.85)])).toBe(false);
    expect(allOutOfDistribution([])).toBe(false);
  });

  it('does not replace the reason of a level without axial slices', () => {
    const f = fuseLevel({ sagittalHerniation: 0.9, axial: null, axialOutOfDistribution: false });
    expect(f.reason).toMatch(/no axial slice/);
  });
});

describe('oodScore', () => {
  // 2x2 features (size 2 would need a 2x2 crop: D = 4), components e0 and e1, variances 4 and 1
  const model: OodModel = {
    card: { name: 'ax-ood', version: 'test' },
    size: 2,
    mean: [0.5, 0.5, 0.5, 0.5],
    components: [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
    ],
    variances: [4, 1],
    residualVariance: 0.01,
    threshold: 2,
  };

  it('is the probabilistic-PCA Mahalanobis distance over the dimension', () => {
    // d = (0.4, -0.2, 0.1, 0): z = (0.4, -0.2), residual (0, 0, 0.1, 0)
    const s = oodScore(model, [0.9, 0.3, 0.6, 0.5]);
    expect(s).toBeCloseTo((0.16 / 4 + 0.04 / 1 + 0.01 / 0.01) / 4, 12);
    expect(oodScore(model, model.mean)).toBe(0);
    expect(() => oodScore(model, [1, 2, 3])).toThrow(/3 values/);
  });

  it('reads the features from the crop before CLAHE, / 255', () => {
    const crop = { width: 2, height: 2, data: Uint8Array.from([255, 0, 51, 102]) };
    expect([...oodFeatures(crop, 2)]).toEqual([1, 0, 0.2, 0.4]);
    const r = oodCheck(model, crop);
    expect(r.threshold).toBe(2);
    expect(r.outOfDistribution).toBe(r.score > 2);
    expect(r.score).toBeCloseTo(oodScore(model, [1, 0, 0.2, 0.4]), 15);
  });
});
