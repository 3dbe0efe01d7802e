import { InputError } from '@lumbar/core';
import { readPart10, type Dataset } from '@lumbar/dicom';
import type { AnalysisResult, DiscGrading, LevelFinding } from '@lumbar/pipeline';
import { fakeSeries, labels } from '../../dicom/src/test-fixtures/sources';
import { buildDicomOutputs, dicomOutputsDocument } from './dicom-outputs';

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

function grading(l: 'L3-L4' | 'L5-S1', grade: 1 | 2 | 3 | 4 | 5): DiscGrading & { level: typeof l } {
  const distribution: [number, number, number, number, number] = [0.1, 0.1, 0.1, 0.1, 0.1];
  distribution[grade - 1] = 0.6;
  return {
    level: l,
    model: { name: 'sag-grading', version: '2.0.0' },
    sopInstanceUid: sag[0].sopInstanceUid,
    fromBottom: l === 'L5-S1' ? 1 : 3,
    herniation: 0.7,
    bulging: 0.2,
    narrowing: 0.4,
    modic: 0.1,
    endplate: 0.1,
    spondylolisthesis: 0.05,
    pfirrmann: { grade, distribution },
    flags: { herniation: true, bulging: false, narrowing: false },
  };
}

const contentOf = (d: Dataset) => (d.ContentSequence ?? []) as Dataset[];
const nameOf = (d: Dataset) => (d.ConceptNameCodeSequence as Dataset[])[0].CodeValue;
const childOf = (d: Dataset, code: string) => contentOf(d).find((i) => nameOf(i) === code);

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
    gradings: [],
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

  it("adds a grading group per graded disc, top down, with the grader's name and version", () => {
    const gradings = [grading('L5-S1', 4), grading('L3-L4', 2)];
    const { outputs } = buildDicomOutputs(result({ gradings }), [...sag, ...ax], { createdAt: CREATED });
    const sr = outputs.find((o) => o.kind === 'sr')!;
    // L3-L4 has no mask: a plain TID 1501 group; L5-S1 cites its sagittal segment and shares the tracking UID
    expect(sr.gradings!.map((g) => [g.level, g.segment])).toEqual([
      ['L3-L4', null],
      ['L5-S1', { file: 'seg-sagittal.dcm', segmentNumber: 2 }],
    ]);
    expect(sr.gradings![1].trackingUid).toBe(sr.levels!.find((l) => l.level === 'L5-S1')!.trackingUid);
    const groups = contentOf(childOf(readPart10(sr.bytes), '126010')!);
    expect(groups).toHaveLength(4);
    const [l34, l51] = groups.slice(2);
    expect((l34.ContentTemplateSequence as Dataset[])[0].TemplateIdentifier).toBe('1501');
    expect((l51.ContentTemplateSequence as Dataset[])[0].TemplateIdentifier).toBe('1411');
    for (const g of [l34, l51]) {
      expect([childOf(g, '111001')!.TextValue, childOf(g, '111003')!.TextValue]).toEqual([
        'sag-grading',
        '2.0.0',
      ]);
      expect(childOf(g, '121106')!.TextValue).toMatch(/SPIDER.*CC BY 4\.0/);
    }
    const grade = (g: Dataset) =>
      (childOf(g, '77547008')!.MeasuredValueSequence as Dataset[])[0].NumericValue;
    expect([grade(l34), grade(l51)]).toEqual([2, 4]);
    // the level groups still name the product's algorithm
    expect(childOf(groups[0], '111001')!.TextValue).toBe('lumbar-ai');
    expect(dicomOutputsDocument([sr])[0].gradings).toEqual(sr.gradings);
  });

  it('writes the same SR with no gradings and without the field (findings from before the grader)', () => {
    const none = buildDicomOutputs(result({ gradings: [] }), [...sag, ...ax], { createdAt: CREATED }).outputs;
    const old = result();
    delete (old as Partial<AnalysisResult>).gradings;
    const absent = buildDicomOutputs(old, [...sag, ...ax], { createdAt: CREATED }).outputs;
    expect(absent.map((o) => o.bytes.equals(none.find((x) => x.file === o.file)!.bytes))).toEqual(
      none.map(() => true),
    );
    const sr = none.find((o) => o.kind === 'sr')!;
    expect(contentOf(childOf(readPart10(sr.bytes), '126010')!)).toHaveLength(2);
    expect(dicomOutputsDocument([sr])[0]).not.toHaveProperty('gradings');
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
