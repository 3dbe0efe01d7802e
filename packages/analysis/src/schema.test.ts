import { InputError, LumbarError } from '@lumbar/core';
import { AnalysisError } from './errors';
import { checkFindings, type FindingsDocument } from './schema';

const doc = (): FindingsDocument => ({
  studyInstanceUid: '2.25.1',
  levels: [
    {
      level: 'L4-L5',
      diagnosis: 'indeterminate',
      probabilities: { healthy: 0.2, bulge: 0.2, central: 0.2, left: 0.2, right: 0.2 },
      reason: 'no axial slice through this disc',
      grading: null,
      evidence: { sagittal: null, axial: [] },
    },
  ],
  summary: 'no herniation found at L4/L5 or L5/S1',
  algorithm: { name: 'lumbar-ai', version: '0.5.0', models: { axialCls: { name: 'ax', version: '1' } } },
  disclaimer: 'Not for primary diagnosis',
  series: { sagittal: '2.25.2', axial: null },
  discs: [{ level: 'L4-L5', centroid: [1, 2], areaMm2: 200 }],
  sagittalProbabilities: { healthy: 0.9, 'L4-L5': 0.05, 'L5-S1': 0.05 },
  gradings: [],
  keyImages: [{ file: 'key-images/1.png', title: 'mid-sagittal', sopInstanceUid: '2.25.3' }],
  dicom: [],
  warnings: [],
  timingsMs: { total: 10 },
});

/** The document with its fields open to being spoilt. */
type Spoilable = Omit<FindingsDocument, 'levels' | 'summary' | 'dicom'> & {
  levels: Array<{ diagnosis: string; probabilities: Record<string, number> }>;
  summary?: string;
  dicom: object[];
};

describe('the findings document schema (the engine boundary)', () => {
  it('accepts a well-formed document, extra fields included, and returns it as is', () => {
    const d = { ...doc(), extra: { anything: true } };
    expect(checkFindings(d)).toBe(d);
  });

  it.each([
    ['an unknown diagnosis', (d: Spoilable) => (d.levels[0].diagnosis = 'herniated'), '/levels/0/diagnosis'],
    [
      'a probability above 1',
      (d: Spoilable) => (d.levels[0].probabilities.left = 1.5),
      '/levels/0/probabilities/left',
    ],
    ['a missing summary', (d: Spoilable) => delete d.summary, 'summary'],
    ['a UID that is not one', (d: Spoilable) => (d.studyInstanceUid = '../../etc'), '/studyInstanceUid'],
    [
      'a DICOM file name with a path',
      (d: Spoilable) =>
        d.dicom.push({
          file: '../x.dcm',
          kind: 'sr',
          sopClassUid: '1.2',
          sopInstanceUid: '1.3',
          seriesInstanceUid: '1.4',
        }),
      '/dicom/0/file',
    ],
  ])('refuses %s with INVALID_OUTPUT naming where', (_what, spoil, where) => {
    const d = doc() as unknown as Spoilable;
    spoil(d);
    const err = (() => {
      try {
        checkFindings(d);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AnalysisError);
    expect((err as AnalysisError).code).toBe('INVALID_OUTPUT');
    expect((err as AnalysisError).retryable).toBe(false);
    expect((err as AnalysisError).message).toContain(where);
  });
});

describe('analysis errors', () => {
  it('keep the sentence of an input error as BAD_INPUT and wrap anything else as INTERNAL', () => {
    expect(AnalysisError.from(new InputError('no sagittal T2 series'))).toMatchObject({
      code: 'BAD_INPUT',
      message: 'no sagittal T2 series',
      retryable: false,
    });
    expect(AnalysisError.from(new LumbarError('NOT_FOUND', 'gone')).code).toBe('BAD_INPUT');
    const internal = AnalysisError.from(new TypeError('x is undefined'));
    expect(internal).toMatchObject({ code: 'INTERNAL', retryable: true });
    expect(internal.message).toBe('unexpected error in the analysis: x is undefined');
  });

  it('cross the process boundary as plain data and come back typed', () => {
    const e = new AnalysisError('OUT_OF_MEMORY', 'grew to 700 MB');
    const back = AnalysisError.fromWire(JSON.parse(JSON.stringify(e.toWire())));
    expect(back).toBeInstanceOf(AnalysisError);
    expect(back).toMatchObject({ code: 'OUT_OF_MEMORY', message: 'grew to 700 MB', retryable: true });
    expect(AnalysisError.fromWire({ code: 'SOMETHING_NEW', message: 'm' }).code).toBe('INTERNAL');
  });
});
