import { centredPlane, ImagePlane, Vec3 } from './geometry';
import type { InstanceHeader } from './instance';
import { selectSeries } from './select';
import { groupInstances } from './series';

const SAG = { row: [0, 1, 0] as Vec3, col: [0, 0, -1] as Vec3 };
const AX = { row: [1, 0, 0] as Vec3, col: [0, 1, 0] as Vec3 };
const COR = { row: [1, 0, 0] as Vec3, col: [0, 0, -1] as Vec3 };
const plane = (o: { row: Vec3; col: Vec3 }, z = 0): ImagePlane =>
  centredPlane([0, 0, z], o.row, o.col, [300, 300], 256, 256);

let uid = 0;
/** A series of `n` synthetic instance headers (what instanceHeader would read). */
function series(
  description: string,
  planes: ImagePlane[],
  timing: { te: number | null; tr: number | null },
  extra: Partial<InstanceHeader> = {},
): InstanceHeader[] {
  const seriesInstanceUid = `2.25.${++uid}`;
  return planes.map((p, i) => ({
    file: `${description}/${i}.dcm`,
    studyInstanceUid: '2.25.1000',
    seriesInstanceUid,
    sopInstanceUid: `${seriesInstanceUid}.${i}`,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
    modality: 'MR',
    seriesNumber: uid,
    instanceNumber: i + 1,
    seriesDescription: description,
    protocolName: description,
    imageType: ['ORIGINAL', 'PRIMARY', 'M'],
    echoTime: timing.te,
    repetitionTime: timing.tr,
    rows: 256,
    columns: 256,
    frames: 1,
    planes: [p],
    sliceThickness: 4,
    hasPixelData: true,
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    ...extra,
  }));
}
const stack = (o: { row: Vec3; col: Vec3 }, n: number) =>
  Array.from({ length: n }, (_, i) => plane(o, i * 4));
const T1 = { te: 10, tr: 550 };
const T2 = { te: 100, tr: 4000 };

describe('selectSeries', () => {
  it.each([
    ['Siemens', 'localizer', 't1_tse_sag', 't2_tse_sag', 't2_tse_tra'],
    ['GE', '3-Plane Loc', 'Sag T1 FSE', 'Sag T2 FSE', 'Ax T2 FSE'],
    ['Philips', 'SURVEY', 'T1W_TSE_SAG', 'T2W_TSE_SAG', 'T2W_TSE_TRA'],
  ])(
    '%s naming: picks the sagittal and axial T2 and says why the others lost',
    (_v, loc, t1, t2sag, t2ax) => {
      const headers = [
        ...series(loc, [plane(SAG), plane(COR), plane(AX)], { te: 4, tr: 9 }),
        ...series(t1, stack(SAG, 12), T1),
        ...series(t2sag, stack(SAG, 12), T2),
        ...series(t2ax, stack(AX, 10), T2),
      ];
      const [study] = groupInstances(headers);
      const result = selectSeries(study);
      expect(result.selected.sagittalT2?.series.description).toBe(t2sag);
      expect(result.selected.axialT2?.series.description).toBe(t2ax);
      expect(result.missing).toEqual([]);
      const why = Object.fromEntries(
        result.rejected.map((r) => [r.series.description, r.reasons.join('; ')]),
      );
      expect(why[loc]).toMatch(/localizer: description matches/);
      expect(why[loc]).toMatch(/mixed orientations \(1 sagittal, 1 coronal, 1 axial\)/);
      expect(why[t1]).toBe('it is sagittal T1: no target wants it');
    },
  );

  it('a T1-only study reports the missing T2 series instead of throwing', () => {
    const [study] = groupInstances([
      ...series('t1_tse_sag', stack(SAG, 12), T1),
      ...series('t1_tse_tra', stack(AX, 9), T1),
    ]);
    const result = selectSeries(study);
    expect(result.selected).toEqual({ sagittalT2: null, axialT2: null });
    expect(result.missing).toEqual(['no sagittal T2 series', 'no axial T2 series']);
    expect(result.rejected).toHaveLength(2);
  });

  it('weighting comes from TE/TR when the description does not say, and a contradiction is reported', () => {
    const [study] = groupInstances([
      ...series('sag tse', stack(SAG, 12), T2),
      ...series('T1 ax', stack(AX, 9), T2),
    ]);
    const result = selectSeries(study);
    expect(result.selected.sagittalT2?.series.description).toBe('sag tse');
    expect(result.selected.axialT2).toBeNull();
    expect(result.rejected[0].reasons.join()).toMatch(
      /description says T1 but TE 100 ms \/ TR 4000 ms fit T2/,
    );
  });

  it('excludes LOCALIZER image types, too few images and STIR; prefers plain T2 to fat-suppressed', () => {
    const [study] = groupInstances([
      ...series('t2 sag', stack(SAG, 12), T2, { imageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] }),
      ...series('t2_tse_sag_fs', stack(SAG, 12), T2),
      ...series('t2_tse_sag', stack(SAG, 11), T2),
      ...series('t2_tirm_sag', stack(SAG, 12), T2),
      ...series('t2_tse_tra', stack(AX, 2), T2),
    ]);
    const result = selectSeries(study);
    expect(result.selected.sagittalT2?.series.description).toBe('t2_tse_sag');
    expect(result.missing).toEqual(['no axial T2 series']);
    const why = result.rejected.map((r) => r.reasons.join('; ')).join('\n');
    expect(why).toMatch(/localizer: ImageType LOCALIZER/);
    expect(why).toMatch(/excluded: description matches .*tirm/);
    expect(why).toMatch(/2 image\(s\), fewer than 3/);
    expect(why).toMatch(/not sagittalT2: scored .* below series \d+ "t2_tse_sag"/);
  });

  it('an axial series whose blocks follow discs tilted up to 40 degrees is still one axial series', () => {
    const tilt = (deg: number, z: number) =>
      plane(
        { row: [1, 0, 0], col: [0, Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)] },
        z,
      );
    const blocks = [tilt(-5, 0), tilt(-5, 4), tilt(15, 40), tilt(15, 44), tilt(38, 80), tilt(38, 84)];
    const [study] = groupInstances([...series('Ax T2 FSE', blocks, T2)]);
    const result = selectSeries(study);
    expect(result.selected.axialT2?.series.orientation).toBe('axial');
    expect(result.selected.axialT2?.series.maxAngle).toBeCloseTo(38, 6);
  });

  it('groups by study and series, and counts a repeated SOP Instance UID once', () => {
    const a = series('t2_tse_sag', stack(SAG, 4), T2);
    const b = series('other study', stack(SAG, 3), T2).map((h) => ({ ...h, studyInstanceUid: '2.25.2000' }));
    const studies = groupInstances([a[3], a[1], ...b, a[0], a[2], a[1]]);
    expect(studies.map((s) => s.studyInstanceUid)).toEqual(['2.25.1000', '2.25.2000']);
    expect(studies[0].series[0].instances.map((i) => i.instanceNumber)).toEqual([1, 2, 3, 4]);
  });
});
