import { InputError } from '@lumbar/core';
import { CODES, DISC_CODES } from './codes';
import { readPart10 } from './read';
import { packBits, segmentationDataset, type SegmentDefinition, type SegmentationInput } from './seg';
import { fakeSeries, labels } from './test-fixtures/sources';
import { writePart10, type Dataset } from './write';

const ids = {
  seriesInstanceUid: '2.25.10',
  sopInstanceUid: '2.25.11',
  seriesNumber: 9901,
  instanceNumber: 1,
  seriesDescription: 'discs',
};
const segment = (label: number, level: string): SegmentDefinition => ({
  label,
  segmentLabel: `${level} disc`,
  description: `${level} disc. Not for primary diagnosis.`,
  category: CODES.anatomicalStructure,
  type: DISC_CODES[level],
  trackingId: `${level} disc`,
  trackingUid: `2.25.${label}00`,
  colour: [255, 60, 60],
});
const SEGMENTS = [segment(4, 'L3-L4'), segment(5, 'L4-L5'), segment(6, 'L5-S1')];

function input(frames: SegmentationInput['frames']): SegmentationInput {
  return {
    frames,
    segments: SEGMENTS,
    algorithm: { name: 'lumbar-ai', version: '0.1.0', parameters: 'models' },
    ids,
    createdAt: new Date('2026-01-02T03:04:05Z'),
    contentDescription: 'discs - not for primary diagnosis',
  };
}

const seq = (d: Dataset, k: string) => d[k] as Dataset[];

describe('segmentationDataset', () => {
  const [a, b, c] = fakeSeries({ series: '2.25.3', count: 3 });
  const frames = [
    { source: a, frame: 0, labels: labels(a, 5, [0, 1]) },
    {
      source: b,
      frame: 0,
      labels: { ...labels(b, 5, [2]), data: labels(b, 5, [2]).data.map((v, i) => (i === 19 ? 6 : v)) },
    },
    { source: c, frame: 0, labels: labels(c, 0, []) },
  ];

  it('numbers the segments present 1..n in definition order, one SEG frame per (segment, slice with pixels)', () => {
    const r = segmentationDataset(input(frames))!;
    expect(
      r.segments.map((s) => [s.segmentNumber, s.label, s.sources.map((x) => x.source.sopInstanceUid)]),
    ).toEqual([
      [1, 5, [a.sopInstanceUid, b.sopInstanceUid]],
      [2, 6, [b.sopInstanceUid]],
    ]);
    const d = r.dataset;
    expect(d.NumberOfFrames).toBe('3');
    expect(seq(d, 'SegmentSequence').map((s) => [s.SegmentNumber, s.SegmentLabel])).toEqual([
      [1, 'L4-L5 disc'],
      [2, 'L5-S1 disc'],
    ]);
    const perFrame = seq(d, 'PerFrameFunctionalGroupsSequence');
    expect(perFrame.map((f) => seq(f, 'SegmentIdentificationSequence')[0].ReferencedSegmentNumber)).toEqual([
      1, 1, 2,
    ]);
    expect(perFrame.map((f) => seq(f, 'FrameContentSequence')[0].DimensionIndexValues)).toEqual([
      [1, 1],
      [1, 2],
      [2, 2],
    ]);
    const derivation = seq(seq(perFrame[1], 'DerivationImageSequence')[0], 'SourceImageSequence')[0];
    expect(derivation).toMatchObject({
      ReferencedSOPInstanceUID: b.sopInstanceUid,
      SpatialLocationsPreserved: 'YES',
    });
    expect(seq(perFrame[1], 'PlanePositionSequence')[0].ImagePositionPatient).toEqual(['1', '0', '0']);
    // every frame shares orientation and pixel spacing: written once
    const shared = seq(d, 'SharedFunctionalGroupsSequence')[0];
    expect(seq(shared, 'PlaneOrientationSequence')[0].ImageOrientationPatient).toEqual([
      '0',
      '1',
      '0',
      '0',
      '0',
      '-1',
    ]);
    expect(seq(shared, 'PixelMeasuresSequence')[0]).toEqual({
      PixelSpacing: ['0.5', '0.5'],
      SliceThickness: '3',
    });
    expect(d).toMatchObject({
      Modality: 'SEG',
      SegmentationType: 'BINARY',
      FrameOfReferenceUID: a.frameOfReferenceUid,
    });
    expect(d).toMatchObject({ StudyInstanceUID: a.studyInstanceUid, PatientID: 'P1', AccessionNumber: 'A1' });
    // the slice without pixels of any segment is not cited
    const cited = seq(seq(d, 'ReferencedSeriesSequence')[0], 'ReferencedInstanceSequence');
    expect(cited.map((r) => r.ReferencedSOPInstanceUID)).toEqual([a.sopInstanceUid, b.sopInstanceUid]);
  });

  it('codes each segment: category, type, AUTOMATIC with the algorithm, tracking UID', () => {
    const [s] = seq(segmentationDataset(input(frames))!.dataset, 'SegmentSequence');
    expect(s).toMatchObject({
      SegmentedPropertyCategoryCodeSequence: [{ CodeValue: '91723000', CodingSchemeDesignator: 'SCT' }],
      SegmentedPropertyTypeCodeSequence: [
        { CodeValue: '84020006', CodingSchemeDesignator: 'SCT', CodeMeaning: 'L4/L5 disc' },
      ],
      SegmentAlgorithmType: 'AUTOMATIC',
      SegmentAlgorithmName: 'lumbar-ai',
      SegmentationAlgorithmIdentificationSequence: [
        { AlgorithmName: 'lumbar-ai', AlgorithmVersion: '0.1.0' },
      ],
      TrackingUID: '2.25.500',
    });
    expect(s.SegmentDescription).toMatch(/not for primary diagnosis/i);
  });

  it('packs the frames one bit per pixel, first pixel in bit 0, frames back to back', () => {
    const one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    const two = new Uint8Array([0, 0, 0, 0, 0, 0, 1, 0, 0, 1]); // bits 16 and 19; 20 bits padded to 4 bytes
    expect([...new Uint8Array(packBits([one, two], 10))]).toEqual([0b00000001, 0b00000011, 0b00001001, 0]);
    const r = segmentationDataset(input(frames))!;
    const px = new Uint8Array((r.dataset.PixelData as ArrayBuffer[])[0]);
    // frame 1 (segment 1 on a): pixels 0 and 1; frame 2 starts at bit 20 (segment 1 on b): pixel 2 -> bit 22
    expect(px[0]).toBe(0b11);
    expect(px[2] & 0b01000000).toBeTruthy();
    expect(px.length % 2).toBe(0);
  });

  it('splits orientation into the per-frame groups when the frames are oblique to each other', () => {
    const [x, y] = fakeSeries({ series: '2.25.4', count: 2, view: 'axial' });
    const tilted = { ...y, planes: [{ ...y.planes[0]!, col: [0, 0.995, 0.0998] as const }] };
    const r = segmentationDataset(
      input([
        { source: x, frame: 0, labels: labels(x, 5, [3]) },
        { source: tilted, frame: 0, labels: labels(tilted, 5, [3]) },
      ]),
    )!;
    expect(seq(r.dataset, 'SharedFunctionalGroupsSequence')[0].PlaneOrientationSequence).toBeUndefined();
    const perFrame = seq(r.dataset, 'PerFrameFunctionalGroupsSequence');
    expect(perFrame.map((f) => seq(f, 'PlaneOrientationSequence')[0].ImageOrientationPatient)).toEqual([
      ['1', '0', '0', '0', '1', '0'],
      ['1', '0', '0', '0', '0.995', '0.0998'],
    ]);
  });

  it('survives writing and reading back', () => {
    const d = segmentationDataset(input(frames))!.dataset;
    const back = readPart10(writePart10(d));
    expect(back).toMatchObject({
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.66.4',
      SOPInstanceUID: ids.sopInstanceUid,
      Rows: 4,
    });
    expect(seq(back, 'PerFrameFunctionalGroupsSequence')).toHaveLength(3);
    const dims = seq(back, 'DimensionIndexSequence').map((x) => x.DimensionIndexPointer);
    expect(dims).toEqual([0x0062000b, 0x00200032]);
  });

  it('returns null when no label has a pixel, and refuses inconsistent frames', () => {
    expect(segmentationDataset(input([{ source: c, frame: 0, labels: labels(c, 0, []) }]))).toBeNull();
    const other = fakeSeries({ series: '2.25.5', count: 1, frameOfReference: '2.25.99' })[0];
    const bad = [
      [{ source: a, frame: 0, labels: { width: 3, height: 3, data: new Uint8Array(9) } }],
      [frames[0], { source: other, frame: 0, labels: labels(other, 5, [0]) }],
      [{ source: { ...a, frameOfReferenceUid: '' }, frame: 0, labels: labels(a, 5, [0]) }],
      [{ source: { ...a, planes: [null] }, frame: 0, labels: labels(a, 5, [0]) }],
      [
        frames[0],
        {
          source: fakeSeries({ series: '2.25.6', count: 1, study: '2.25.77' })[0],
          frame: 0,
          labels: labels(a, 5, [0]),
        },
      ],
      [],
    ];
    for (const f of bad) expect(() => segmentationDataset(input(f))).toThrow(InputError);
  });
});
