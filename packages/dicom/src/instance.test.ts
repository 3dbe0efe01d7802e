import { InputError } from '@lumbar/core';
import { readFileSync } from 'node:fs';
import { sharedPath } from '../../../test/helpers/shared';
import { instanceHeader } from './instance';
import { readPart10 } from './read';

const sample = (p: string): Buffer => readFileSync(sharedPath('data', 'dicom-samples', p));

describe('instanceHeader', () => {
  it('reads the same header with headerOnly, past nested icon pixel data', () => {
    const file = 'pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm';
    const head = readPart10(sample(file), file, { headerOnly: true });
    const full = readPart10(sample(file), file);
    expect(head.PixelData).toBeUndefined();
    expect(head._hasPixelData).toBe(true);
    expect(Array.isArray(head.IconImageSequence)).toBe(true);
    expect(instanceHeader(head, file)).toEqual(instanceHeader(full, file));
    const h = instanceHeader(head, file);
    expect(h.imageType).toContain('DERIVED');
    expect(h.planes[0]?.spacing).toEqual([0.72314049586777, 0.72314049586777]);
  });

  it('takes TE, TR and the per-frame planes of Enhanced MR from the functional groups', () => {
    const file = 'dcm_qa_enh/Philips_IM_0027_fMAP.dcm';
    const h = instanceHeader(readPart10(sample(file), file, { headerOnly: true }), file);
    expect(h.frames).toBe(64);
    expect(h.echoTime).toBe(1.52); // MREchoSequence EffectiveEchoTime of the first frame
    expect(h.repetitionTime).toBeCloseTo(3.8045, 4); // MRTimingAndRelatedParametersSequence
    expect(h.planes.every((p) => p !== null)).toBe(true);
    expect(new Set(h.planes.map((p) => p?.position[2])).size).toBe(32); // magnitude and B0 map per slice
  });

  it('requires the study, series and instance UIDs', () => {
    expect(() => instanceHeader({ StudyInstanceUID: '1.2', SOPInstanceUID: '1.3' }, 'x.dcm')).toThrow(
      InputError,
    );
    expect(() => instanceHeader({ StudyInstanceUID: '1.2', SOPInstanceUID: '1.3' }, 'x.dcm')).toThrow(
      'x.dcm: no SeriesInstanceUID',
    );
  });
});
