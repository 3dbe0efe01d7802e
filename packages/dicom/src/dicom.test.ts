import { centredPlane, deterministicUid, ds, patientToPixel, pixelToPatient, planeNormal } from './index';

describe('deterministicUid', () => {
  it('is stable, valid and distinct per input', () => {
    const a = deterministicUid('study', 1);
    expect(a).toBe(deterministicUid('study', 1));
    expect(a).not.toBe(deterministicUid('study', 2));
    expect(a).toMatch(/^2\.25\.[1-9]\d*$/);
    expect(a.length).toBeLessThanOrEqual(64);
  });
});

describe('ds', () => {
  it('never exceeds 16 characters', () => {
    for (const x of [Math.PI, -123456.789012345, 1e-7, 0.1 + 0.2, 12345678901234]) {
      expect(ds(x).length).toBeLessThanOrEqual(16);
      expect(Math.abs(Number(ds(x)) - x)).toBeLessThan(Math.abs(x) * 1e-6 + 1e-6);
    }
  });
});

describe('image plane geometry', () => {
  const plane = centredPlane([10, 20, 30], [0, 1, 0], [0, 0, -1], [300, 300], 300, 300);
  it('puts the centre of the field of view at the given point', () => {
    const p = pixelToPatient(plane, 149.5, 149.5);
    expect(p.map((x) => Math.round(x * 1e6) / 1e6)).toEqual([10, 20, 30]);
  });
  it('round-trips pixel and patient coordinates', () => {
    const q = patientToPixel(plane, pixelToPatient(plane, 12, 200));
    expect(q.r).toBeCloseTo(12, 9);
    expect(q.c).toBeCloseTo(200, 9);
    expect(q.distance).toBeCloseTo(0, 9);
  });
  it('a sagittal plane (rows posterior, columns to the feet) has its normal along -x', () => {
    expect(planeNormal(plane)).toEqual([-1, 0, 0]);
  });
});
