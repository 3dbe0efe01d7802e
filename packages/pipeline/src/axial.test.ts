import { axialLevelEvidence } from './axial';
import { DEFAULT_FUSION, fuseLevel } from './fuse';

const slice = (area: number, h: number, b: number, c: number, l: number, r: number) => ({
  sopInstanceUid: `1.2.3.${area}`,
  frame: 0,
  distanceMm: 0,
  discAreaMm2: area,
  probabilities: { healthy: h, bulge: b, central: c, left: l, right: r },
});

// a left herniation that only the middle slice of three cuts (the outer two leave the disc through an endplate)
const level = [
  slice(1000, 0.97, 0.01, 0.01, 0.005, 0.005),
  slice(1400, 0.1, 0.02, 0.03, 0.8, 0.05),
  slice(900, 0.98, 0.01, 0.005, 0.0, 0.005),
];

describe('axialLevelEvidence', () => {
  it("'mean' is the disc-area-weighted mean over the slices of at least 0.6 x the largest area", () => {
    const withSmall = [...level, slice(500, 0, 0, 0, 0, 1)]; // 500 < 0.6 x 1400: left out
    const m = axialLevelEvidence(withSmall, 'mean')!;
    const total = 1000 + 1400 + 900;
    expect(m.left).toBeCloseTo((1000 * 0.005 + 1400 * 0.8) / total, 12);
    expect(m.right).toBeCloseTo((1000 * 0.005 + 1400 * 0.05 + 900 * 0.005) / total, 12);
    expect(Object.values(m).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // the mean dilutes a herniation that one slice of three shows: the level reads healthy
    expect(
      fuseLevel({ sagittalHerniation: 0.1, axial: m }, { ...DEFAULT_FUSION, sagittalWeight: 0 }).diagnosis,
    ).toBe('healthy');
  });

  it("'max-herniation' takes the herniation from the slice that shows it most, the rest from the mean", () => {
    const m = axialLevelEvidence(level, 'max-herniation')!;
    expect(m.left).toBeCloseTo(0.8, 12);
    expect(m.central).toBeCloseTo(0.03, 12);
    expect(m.right).toBeCloseTo(0.05, 12);
    // 1 - 0.88 split between healthy and bulge as their area-weighted means are
    const total = 1000 + 1400 + 900;
    const mh = (1000 * 0.97 + 1400 * 0.1 + 900 * 0.98) / total;
    const mb = (1000 * 0.01 + 1400 * 0.02 + 900 * 0.01) / total;
    expect(m.healthy).toBeCloseTo((0.12 * mh) / (mh + mb), 12);
    expect(m.bulge).toBeCloseTo((0.12 * mb) / (mh + mb), 12);
    expect(Object.values(m).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(
      fuseLevel({ sagittalHerniation: 0.1, axial: m }, { ...DEFAULT_FUSION, sagittalWeight: 0 }).diagnosis,
    ).toBe('left');
    // slices under the area fraction do not count, whatever they say
    const small = axialLevelEvidence(
      [slice(1400, 0.9, 0.1, 0, 0, 0), slice(600, 0, 0, 1, 0, 0)],
      'max-herniation',
    )!;
    expect(small.central).toBe(0);
    expect(small.healthy).toBeCloseTo(0.9, 12);
    // a bulge seen on every slice stays a bulge
    const bulge = axialLevelEvidence(
      [slice(1200, 0.1, 0.85, 0.03, 0.01, 0.01), slice(1300, 0.05, 0.9, 0.02, 0.02, 0.01)],
      'max-herniation',
    )!;
    expect(fuseLevel({ sagittalHerniation: 0.1, axial: bulge }).diagnosis).toBe('bulge');
  });

  it('is null without slices', () => {
    expect(axialLevelEvidence([], 'mean')).toBeNull();
    expect(axialLevelEvidence([], 'max-herniation')).toBeNull();
  });
});
