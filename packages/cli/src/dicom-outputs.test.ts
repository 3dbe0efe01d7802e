import { InputError } from '@lumbar/core';
import { readPart10 } from '@lumbar/dicom';
import type { AnalysisResult, LevelFinding } from '@lumbar/pipeline';
import { fakeSeries, labels } from '../../dicom/src/test-fixtures/sources';
import { buildDicomOutputs } from './dicom-outputs';

const sag = fakeSeries({ series: '2.25.3', count: 2 });
const ax = fakeSeries({ series: '2.25.4', count: 2, view: 'axial' });
const CREATED = new Date('2026-01-02T03:04:05Z');
const probs = { healthy: 0.1, bulge: 0.6, central: 0.1, left: 0.1, right: 0.1 };

function level(l: 'L4-L5' | 'L5-S1', diagnosis: LevelFinding['diagnosis'], axial: number[]): LevelFinding {
  return {
    level: l,
    diagnosis,
    probabilities: probs,
    reason: null,
    evidence: {
      sagittal: { sopInstanceUid: sag[0].sopInstanceUid, herniationProbability: 0.2, centroid: [1, 2] },
      axial: axial.map((i) => ({
        sopInstanceUid: ax[i].sopInstanceUid,
        frame: 0,
        distanceMm: 0,
        discAreaMm2: 1,
        probabilities: probs,
      })),
    },
  };
}

/** L4-L5 seen on the sagittal and an axial slice; L5-S1 on the sagittal slice only. */
function result(over: Partial<AnalysisResult> = {}): AnalysisResult {
  const sagMask = labels(sag[0], 5, [1, 2]);
  sagMask.data[10] = 6;
  const img = { width: 5, height: 4, data: new Uint8Array(20).fill(100) };
  return {
    studyInstanceUid: '2.25.1',
    levels: [level('L4-L5', 'bulge', [0]), level('L5-S1', 'left', [])],
    summary: 'L4/L5 bulge; L5/S1 left paracentral herniation',
    discs: [],
    sagittalProbabilities: null,
    keyImages: [
      {
        title: 'mid-sagittal T2',
        sopInstanceUid: sag[0].sopInstanceUid,
        image: img,
        mask: sagMask,
        box: null,
      },
    ],
    masks: [
      { sopInstanceUid: sag[0].sopInstanceUid, frame: 0, view: 'sagittal', levels: { all: sagMask } },
      {
        sopInstanceUid: ax[0].sopInstanceUid,
        frame: 0,
        view: 'axial',
        levels: { 'L4-L5': labels(ax[0], 5, [7]) },
      },
    ],
    models: { sagittalSeg: { name: 'sag-seg-unet', version: '1' } },
    warnings: [],
    timingsMs: {},
    ...over,
  };
}

describe('buildDicomOutputs', () => {
  it('writes a SEG per masked series, the SR citing the axial segment first, and the key images', () => {
    const { outputs, warnings } = buildDicomOutputs(result(), [...sag, ...ax], { createdAt: CREATED });
    expect(warnings).toEqual([]);
    expect(outputs.map((o) => o.file)).toEqual([
      'seg-sagittal.dcm',
      'seg-axial.dcm',
      'sr.dcm',
      'key-image-1.dcm',
    ]);
    expect(outputs[0].segments).toEqual([
      { segmentNumber: 1, level: 'L4-L5' },
      { segmentNumber: 2, level: 'L5-S1' },
    ]);
    expect(outputs[1].segments).toEqual([{ segmentNumber: 1, level: 'L4-L5' }]);
    expect(outputs[2].levels!.map((l) => [l.level, l.segment])).toEqual([
      ['L4-L5', { file: 'seg-axial.dcm', segmentNumber: 1 }],
      ['L5-S1', { file: 'seg-sagittal.dcm', segmentNumber: 2 }],
    ]);
    // the SEG segments and the SR groups of a level share its tracking UID
    const seg = readPart10(outputs[0].bytes);
    const segUids = (seg.SegmentSequence as Array<{ TrackingUID: string }>).map((s) => s.TrackingUID);
    expect(segUids).toEqual(outputs[2].levels!.map((l) => l.trackingUid));
    for (const o of outputs) {
      const d = readPart10(o.bytes);
      expect([d.StudyInstanceUID, d.SOPInstanceUID, d.SeriesInstanceUID]).toEqual([
        '2.25.1',
        o.sopInstanceUid,
        o.seriesInstanceUid,
      ]);
    }
  });

  it('gives the same bytes for the same input, and new UIDs when a model changes', () => {
    const a = buildDicomOutputs(result(), [...sag, ...ax], { createdAt: CREATED }).outputs;
    const b = buildDicomOutputs(result(), [...sag, ...ax], { createdAt: CREATED }).outputs;
    expect(b.map((o, i) => o.bytes.equals(a[i].bytes))).toEqual(a.map(() => true));
    const models = { sagittalSeg: { name: 'sag-seg-unet', version: '2' } };
    const c = buildDicomOutputs(result({ models }), [...sag, ...ax], { createdAt: CREATED }).outputs;
    for (const [i, o] of c.entries()) expect(o.sopInstanceUid).not.toBe(a[i].sopInstanceUid);
  });

  it('writes no SEG without masks (no disc found): the SR then cites no segment', () => {
    const indeterminate = [level('L4-L5', 'indeterminate', []), level('L5-S1', 'indeterminate', [])];
    const r = result({ masks: [], keyImages: [], levels: indeterminate });
    const { outputs } = buildDicomOutputs(r, [...sag, ...ax], { createdAt: CREATED });
    expect(outputs.map((o) => o.file)).toEqual(['sr.dcm']);
    expect(outputs[0].levels!.map((l) => l.segment)).toEqual([null, null]);
  });

  it('skips a SEG whose source has no Frame of Reference, with a warning; refuses unknown sources', () => {
    const noFor = [{ ...sag[0], frameOfReferenceUid: '' }, sag[1], ...ax];
    const { outputs, warnings } = buildDicomOutputs(result(), noFor, { createdAt: CREATED });
    expect(outputs.map((o) => o.file)).toEqual(['seg-axial.dcm', 'sr.dcm', 'key-image-1.dcm']);
    expect(warnings).toEqual([expect.stringMatching(/^no sagittal SEG: .*FrameOfReferenceUID/)]);
    expect(() => buildDicomOutputs(result(), ax, { createdAt: CREATED })).toThrow(InputError);
  });
});
