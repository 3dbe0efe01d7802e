import { InputError } from '@lumbar/core';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTmpDir, removeDir } from '../../../test/helpers/files';
import { planeOrientation } from './classify';
import type { Vec3 } from './geometry';
import { readSeriesRules } from './rules-file';
import { DEFAULT_SERIES_RULES, seriesRules } from './series-rules';

const tol = DEFAULT_SERIES_RULES.toleranceDegrees;
const rad = (deg: number) => (deg * Math.PI) / 180;
/** An axial plane tilted about the left-right axis by `deg` (as a lumbar axial block follows its disc). */
const tiltedAxial = (deg: number) => ({
  row: [1, 0, 0] as Vec3,
  col: [0, Math.cos(rad(deg)), Math.sin(rad(deg))] as Vec3,
});

describe('planeOrientation', () => {
  it('classifies by the dominant axis of the normal', () => {
    expect(planeOrientation({ row: [0, 1, 0], col: [0, 0, -1] }, tol).orientation).toBe('sagittal');
    expect(planeOrientation({ row: [1, 0, 0], col: [0, 0, -1] }, tol).orientation).toBe('coronal');
    expect(planeOrientation({ row: [1, 0, 0], col: [0, 1, 0] }, tol).orientation).toBe('axial');
  });

  it('lets axial slices follow a disc tilted by 40 degrees, not 50', () => {
    const at40 = planeOrientation(tiltedAxial(40), tol);
    expect(at40.orientation).toBe('axial');
    expect(at40.angle).toBeCloseTo(40, 6);
    expect(planeOrientation(tiltedAxial(-40), tol).orientation).toBe('axial');
    expect(planeOrientation(tiltedAxial(50), tol).orientation).toBe('oblique');
  });

  it('uses the tolerance of the dominant axis', () => {
    const sag35 = { row: [Math.sin(rad(35)), Math.cos(rad(35)), 0] as Vec3, col: [0, 0, -1] as Vec3 };
    expect(planeOrientation(sag35, tol).orientation).toBe('oblique');
    expect(planeOrientation(sag35, { ...tol, sagittal: 40 }).orientation).toBe('sagittal');
  });
});

describe('series rules', () => {
  it('the shipped defaults are valid and name the two targets', () => {
    expect(Object.keys(DEFAULT_SERIES_RULES.targets)).toEqual(['sagittalT2', 'axialT2']);
    expect(DEFAULT_SERIES_RULES.toleranceDegrees.axial).toBeGreaterThanOrEqual(40);
  });

  it('an override replaces only what it names', () => {
    const rules = seriesRules({ minImages: 5, orientation: { toleranceDegrees: { axial: 20 } } });
    expect(rules.minImages).toBe(5);
    expect(rules.toleranceDegrees).toEqual({ sagittal: 30, coronal: 30, axial: 20 });
    expect(rules.localizer.descriptions.length).toBe(DEFAULT_SERIES_RULES.localizer.descriptions.length);
  });

  it.each([
    [{ minImages: 'three' }, /"minImages" must be a number/],
    [{ minImage: 3 }, /"minImage" is not a known setting/],
    [
      { localizer: { descriptions: ['scout', '(unclosed'] } },
      /"localizer.descriptions\[1\]" is not a valid regular expression/,
    ],
    [
      { orientation: { toleranceDegrees: { axial: 70 } } },
      /"orientation.toleranceDegrees.axial" must be a number from 0 to 54.7/,
    ],
    [
      { targets: { sagittalT2: { orientation: 'sagittal', weighting: 'PD' } } },
      /"targets.sagittalT2.weighting" must name/,
    ],
    [{ weighting: { T2: { echoTimeMs: [100, 60] } } }, /"weighting.T2.echoTimeMs" must be \[min, max\]/],
    [{ penalties: [{ why: 'x', score: 1 }] }, /"penalties\[0\]" needs "description" or "imageType"/],
    [[1, 2], /not a JSON object/],
  ])('rejects %j with a clear message', (override, message) => {
    expect(() => seriesRules(override, 'site.json')).toThrow(InputError);
    expect(() => seriesRules(override, 'site.json')).toThrow(message);
  });

  it('reads an override file and names it in errors', () => {
    const dir = makeTmpDir('series-rules');
    try {
      const good = path.join(dir, 'good.json');
      writeFileSync(good, JSON.stringify({ minImages: 4 }));
      expect(readSeriesRules(good).minImages).toBe(4);
      const bad = path.join(dir, 'bad.json');
      writeFileSync(bad, '{ "minImages": ');
      expect(() => readSeriesRules(bad)).toThrow(/series rules .*bad\.json: not valid JSON/);
      expect(() => readSeriesRules(path.join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read/);
      expect(readSeriesRules().minImages).toBe(DEFAULT_SERIES_RULES.minImages);
    } finally {
      removeDir(dir);
    }
  });
});
