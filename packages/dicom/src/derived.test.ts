import { DISC_LEVELS } from '@lumbar/core';
import {
  CODES,
  DISC_CODES,
  GRADING_CODES,
  PROBABILITY_CODES,
  diagnosisCodes,
  gradingCodes,
  isPrivate,
} from './codes';
import { rgbToDicomLab } from './colour';
import { algorithmId, derivedUids } from './derived';
import { sourceImageOf } from './source-image';

describe('derived object identity', () => {
  it('derives the same UIDs from the same study, algorithm and object, and others otherwise', () => {
    const a = derivedUids('2.25.1', 'lumbar-ai@0.1.0', 'sr', 'sr');
    expect(derivedUids('2.25.1', 'lumbar-ai@0.1.0', 'sr', 'sr')).toEqual(a);
    expect(a.seriesInstanceUid).not.toBe(a.sopInstanceUid);
    for (const other of [
      derivedUids('2.25.2', 'lumbar-ai@0.1.0', 'sr', 'sr'),
      derivedUids('2.25.1', 'lumbar-ai@0.2.0', 'sr', 'sr'),
      derivedUids('2.25.1', 'lumbar-ai@0.1.0', 'seg:2.25.3', 'seg'),
    ]) {
      expect(other.sopInstanceUid).not.toBe(a.sopInstanceUid);
    }
    expect(a.sopInstanceUid).toMatch(/^2\.25\.\d{1,39}$/);
  });

  it('names the algorithm with its model versions, whatever their order', () => {
    const m1 = { b: { name: 'y', version: '2' }, a: { name: 'x', version: '1' } };
    const m2 = { a: { name: 'x', version: '1' }, b: { name: 'y', version: '2' } };
    expect(algorithmId(m1)).toBe(algorithmId(m2));
    expect(algorithmId(m1)).toMatch(/^lumbar-ai@.*;a=x@1;b=y@2$/);
    expect(algorithmId({ a: { name: 'x', version: '9' } })).not.toBe(
      algorithmId({ a: { name: 'x', version: '1' } }),
    );
  });
});

describe('sourceImageOf', () => {
  it('keeps identity and geometry, and writes the type 2 patient and study attributes even when absent', () => {
    const s = sourceImageOf(
      {
        SOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
        SOPInstanceUID: '2.25.10',
        SeriesInstanceUID: '2.25.11',
        StudyInstanceUID: '2.25.12',
        FrameOfReferenceUID: '2.25.13',
        Modality: 'MR',
        Rows: 2,
        Columns: 3,
        ImagePositionPatient: [1, 2, 3],
        ImageOrientationPatient: [0, 1, 0, 0, 0, -1],
        PixelSpacing: [0.5, 0.6],
        PatientName: [{ Alphabetic: 'DOE^JANE' }],
        PatientID: 'X',
        InstitutionName: 'not copied',
      },
      'x.dcm',
    );
    expect(s).toMatchObject({
      sopInstanceUid: '2.25.10',
      frameOfReferenceUid: '2.25.13',
      rows: 2,
      columns: 3,
      frames: 1,
    });
    expect(s.planes[0]).toMatchObject({ position: [1, 2, 3], spacing: [0.5, 0.6] });
    expect(s.patientStudy).toEqual({
      StudyInstanceUID: '2.25.12',
      PatientName: [{ Alphabetic: 'DOE^JANE' }],
      PatientID: 'X',
      PatientBirthDate: '',
      PatientSex: '',
      StudyDate: '',
      StudyTime: '',
      ReferringPhysicianName: '',
      StudyID: '',
      AccessionNumber: '',
    });
  });
});

describe('codes', () => {
  it('codes every disc level and every diagnosis', () => {
    expect(DISC_LEVELS.map((l) => DISC_CODES[l].scheme)).toEqual(DISC_LEVELS.map(() => 'SCT'));
    expect(diagnosisCodes('healthy')).toEqual({ finding: CODES.normal, position: null });
    expect(diagnosisCodes('bulge').finding).toBe(CODES.discBulge);
    expect(diagnosisCodes('central').position).toEqual({
      name: CODES.topographicalModifier,
      value: CODES.central,
    });
    expect(diagnosisCodes('left')).toEqual({
      finding: CODES.herniatedDisc,
      position: { name: CODES.laterality, value: CODES.left },
    });
    expect(diagnosisCodes('right').position!.value).toBe(CODES.right);
    expect(diagnosisCodes('indeterminate').finding).toBe(CODES.indeterminate);
  });

  it('keeps private codes in a 99 scheme (PS3.3 8.2) and every code meaning within LO (64)', () => {
    const all = [
      ...Object.values(CODES),
      ...Object.values(DISC_CODES),
      ...Object.values(PROBABILITY_CODES),
      ...Object.values(GRADING_CODES).flat(),
    ];
    for (const c of all.filter(isPrivate)) expect(c.scheme).toMatch(/^99/);
    for (const c of all) expect(c.meaning.length).toBeLessThanOrEqual(64);
    for (const c of all) expect(c.value.length).toBeLessThanOrEqual(16);
  });

  it('codes a grading: grade with unit {grade} and method Pfirrmann, probabilities, present/absent', () => {
    const { measurements, evaluations } = gradingCodes({
      herniation: 0.1,
      bulging: 0.2,
      narrowing: 0.3,
      modic: 0.4,
      endplate: 0.5,
      spondylolisthesis: 0.6,
      pfirrmann: { grade: 2, distribution: [0.1, 0.5, 0.2, 0.1, 0.1] },
      flags: { herniation: false, bulging: true, narrowing: false },
    });
    expect(measurements[0]).toEqual({
      name: CODES.discDegeneration,
      value: 2,
      unit: CODES.grade,
      method: GRADING_CODES.pfirrmannMethod,
    });
    expect(measurements.slice(1).map((m) => [m.name.value, m.value, m.unit.value])).toEqual([
      ['P-PFIRRMANN-1', 0.1, '1'],
      ['P-PFIRRMANN-2', 0.5, '1'],
      ['P-PFIRRMANN-3', 0.2, '1'],
      ['P-PFIRRMANN-4', 0.1, '1'],
      ['P-PFIRRMANN-5', 0.1, '1'],
      ['P-GRD-HERNIATION', 0.1, '1'],
      ['P-GRD-BULGE', 0.2, '1'],
      ['P-NARROWING', 0.3, '1'],
      ['P-MODIC', 0.4, '1'],
      ['P-ENDPLATE', 0.5, '1'],
      ['P-LISTHESIS', 0.6, '1'],
    ]);
    expect(evaluations.map((e) => [e.name.value, e.value])).toEqual([
      ['73589001', CODES.absent],
      ['DISC-BULGE', CODES.present],
      ['DISC-NARROWING', CODES.absent],
    ]);
    // every concept name is distinct, so a reader can key on it
    expect(new Set(measurements.map((m) => m.name.value)).size).toBe(measurements.length);
  });

  it('converts display colours to PCS CIELab: white, black, red', () => {
    expect(rgbToDicomLab([255, 255, 255])).toEqual([65535, 32896, 32896]);
    expect(rgbToDicomLab([0, 0, 0])).toEqual([0, 32896, 32896]);
    const [L, a] = rgbToDicomLab([255, 0, 0]);
    expect(L / 65535).toBeCloseTo(0.54, 1);
    expect(a).toBeGreaterThan(50000);
  });
});
