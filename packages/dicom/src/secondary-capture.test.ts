import { InputError } from '@lumbar/core';
import { readPart10 } from './read';
import { secondaryCaptureDataset, type SecondaryCaptureInput } from './secondary-capture';
import { fakeSeries } from './test-fixtures/sources';
import { writePart10 } from './write';

const [source] = fakeSeries({ series: '2.25.3', count: 1 });
const input = (
  width: number,
  height: number,
  rgb = new Uint8Array(width * height * 3),
): SecondaryCaptureInput => ({
  source,
  width,
  height,
  rgb,
  patientOrientation: ['P', 'F'],
  description: 'mid-sagittal T2 with disc masks',
  comments: 'Not for primary diagnosis.',
  ids: {
    seriesInstanceUid: '2.25.8',
    sopInstanceUid: '2.25.9',
    seriesNumber: 9904,
    instanceNumber: 1,
    seriesDescription: 'key images',
  },
  createdAt: new Date('2026-01-02T03:04:05Z'),
});

describe('secondaryCaptureDataset', () => {
  it('is an RGB secondary capture of the source study that cites its slice and carries the disclaimer', () => {
    const rgb = new Uint8Array(3 * 2 * 3).map((_, i) => i);
    const d = secondaryCaptureDataset(input(3, 2, rgb));
    expect(d).toMatchObject({
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
      StudyInstanceUID: source.studyInstanceUid,
      PatientID: 'P1',
      Modality: 'OT',
      ImageType: ['DERIVED', 'SECONDARY'],
      PhotometricInterpretation: 'RGB',
      SamplesPerPixel: 3,
      Rows: 2,
      Columns: 3,
      PatientOrientation: ['P', 'F'],
      ImageComments: 'Not for primary diagnosis.',
      BurnedInAnnotation: 'NO',
      SourceImageSequence: [{ ReferencedSOPInstanceUID: source.sopInstanceUid }],
    });
    const back = readPart10(writePart10(d));
    const px = new Uint8Array((back.PixelData as ArrayBuffer[])[0]);
    expect([...px.subarray(0, 18)]).toEqual([...rgb]);
  });

  it('pads an odd number of bytes to even length, and refuses a buffer that does not fit', () => {
    const d = secondaryCaptureDataset(input(1, 1));
    expect(((d.PixelData as ArrayBuffer[])[0] as ArrayBuffer).byteLength).toBe(4);
    expect(() => secondaryCaptureDataset(input(2, 2, new Uint8Array(5)))).toThrow(InputError);
    expect(() => secondaryCaptureDataset(input(0, 2))).toThrow(InputError);
  });
});
