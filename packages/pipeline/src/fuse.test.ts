import { DEFAULT_FUSION, fuseLevel, sagittalByLevel, summarise } from './fuse';

const ax = (h: number, b: number, c: number, l: number, r: number) => ({
  healthy: h,
  bulge: b,
  central: c,
  left: l,
  right: r,
});

describe('fuseLevel', () => {
  it('takes herniation from both views and the side from the axial view', () => {
    const f = fuseLevel({ sagittalHerniation: 0.9, axial: ax(0.05, 0.05, 0.1, 0.75, 0.05) });
    expect(f.diagnosis).toBe('left');
    expect(f.reason).toBeNull();
    const sum = Object.values(f.probabilities).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 9);
    // p(herniation) = w * 0.9 + (1 - w) * 0.9 = 0.9, split 0.1:0.75:0.05 over central, left, right
    expect(f.probabilities.left).toBeCloseTo((0.9 * 0.75) / 0.9, 9);
  });

  it('says healthy or bulge when neither view sees a herniation', () => {
    expect(fuseLevel({ sagittalHerniation: 0.05, axial: ax(0.8, 0.1, 0.05, 0.03, 0.02) }).diagnosis).toBe(
      'healthy',
    );
    expect(fuseLevel({ sagittalHerniation: 0.1, axial: ax(0.1, 0.8, 0.05, 0.03, 0.02) }).diagnosis).toBe(
      'bulge',
    );
  });

  it('is indeterminate, with a reason, when a view is missing, the views disagree or confidence is low', () => {
    const noAxial = fuseLevel({ sagittalHerniation: 0.9, axial: null });
    expect(noAxial.diagnosis).toBe('indeterminate');
    expect(noAxial.reason).toMatch(/no axial slice/);
    expect(fuseLevel({ sagittalHerniation: null, axial: ax(0, 0, 0, 1, 0) }).reason).toMatch(/no sagittal/);
    const strict = { ...DEFAULT_FUSION, maxDisagreement: 0.8 };
    const disagree = fuseLevel({ sagittalHerniation: 0.95, axial: ax(0.9, 0.05, 0.02, 0.02, 0.01) }, strict);
    expect(disagree.diagnosis).toBe('indeterminate');
    expect(disagree.reason).toMatch(/disagree/);
    const unsure = fuseLevel({ sagittalHerniation: 0.5, axial: ax(0.2, 0.2, 0.2, 0.2, 0.2) });
    expect(unsure.diagnosis).toBe('indeterminate');
    expect(unsure.reason).toMatch(/low confidence/);
  });
});

describe('sagittalByLevel and summarise', () => {
  it('maps the sagittal classes to levels and writes a report line', () => {
    expect(sagittalByLevel([0.2, 0.7, 0.1])).toEqual({ 'L4-L5': 0.7, 'L5-S1': 0.1 });
    expect(
      summarise([
        { level: 'L4-L5', diagnosis: 'healthy' },
        { level: 'L5-S1', diagnosis: 'left' },
      ]),
    ).toBe('L5/S1 herniation, left');
    expect(
      summarise([
        { level: 'L4-L5', diagnosis: 'healthy' },
        { level: 'L5-S1', diagnosis: 'healthy' },
      ]),
    ).toBe('No disc herniation or bulge at L4/L5 or L5/S1');
  });
});
