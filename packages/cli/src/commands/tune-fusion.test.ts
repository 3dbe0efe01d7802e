import { DEFAULT_FUSION } from '@lumbar/pipeline';
import { scorePolicies } from './tune-fusion';

const probs = (p: Partial<Record<'healthy' | 'bulge' | 'central' | 'left' | 'right', number>>) => ({
  healthy: 0,
  bulge: 0,
  central: 0,
  left: 0,
  right: 0,
  ...p,
});
const slice = (p: ReturnType<typeof probs>) => ({
  sopInstanceUid: '2.25.1',
  frame: 0,
  distanceMm: 0,
  discAreaMm2: 100,
  probabilities: p,
});
const sag = (h: number) => ({
  sopInstanceUid: '2.25.2',
  herniationProbability: h,
  centroid: [0, 0],
  perSlice: [{ sopInstanceUid: '2.25.2', herniationProbability: h }],
});

describe('tune-fusion scoring', () => {
  it('scores the whole grid, best first, and counts a level without sagittal evidence as indeterminate', () => {
    const cases = [
      { truth: 'left', sag: sag(0.9), axial: [slice(probs({ left: 0.9, healthy: 0.1 }))] },
      { truth: 'healthy', sag: sag(0.1), axial: [slice(probs({ healthy: 0.95, left: 0.05 }))] },
      { truth: 'right', sag: null, axial: [slice(probs({ right: 1 }))] },
    ];
    const scores = scorePolicies(cases);
    expect(scores).toHaveLength(2 * 3 * 5 * 3 * 2);
    expect(scores[0]).toMatchObject({ accuracy: 2 / 3, indeterminate: 1 / 3 });
    for (let i = 1; i < scores.length; i++)
      expect(scores[i].accuracy).toBeLessThanOrEqual(scores[i - 1].accuracy);
    // the shipped policy is one of the grid
    expect(scores.map((s) => JSON.stringify(s.policy))).toContain(
      JSON.stringify({
        axialAggregate: DEFAULT_FUSION.axialAggregate,
        sagittalAggregate: DEFAULT_FUSION.sagittalAggregate,
        sagittalWeight: DEFAULT_FUSION.sagittalWeight,
        maxDisagreement: DEFAULT_FUSION.maxDisagreement,
        minConfidence: DEFAULT_FUSION.minConfidence,
      }),
    );
  });
});
