// Checks the test harness itself against the real tools, on real DICOM files from ../shared: Orthanc
// starts and accepts C-STOREs from storescu, statuses are read per instance, and dciodvfy's findings
// are parsed. If this file fails, the other integration tests cannot be trusted.
import { copyFileSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { STATUS_SUCCESS, dciodvfy, readTag, storescu } from '../helpers/dcmtk';
import { makeTmpDir, removeDir } from '../helpers/files';
import { useOrthanc } from '../helpers/orthanc';
import { sharedPath } from '../helpers/shared';

// Three uncompressed encodings (explicit LE, implicit LE, explicit BE) of one real Siemens MR image.
const samples = ['1.dcm', '2.dcm', '3.dcm'].map((f) => sharedPath('data', 'dicom-samples', 'dcm_qa_ts', f));

describe('Orthanc peer with storescu', () => {
  const orthanc = useOrthanc({
    aet: 'HARNESS_PACS',
    modalities: { lumbar: ['LUMBAR_AI', '127.0.0.1', 11112] },
    config: { DicomCheckCalledAet: true },
  });

  it('stores real samples, each answered 0x0000, and lists the same SOP Instance UIDs', async () => {
    const { aet, dicomPort, rest } = orthanc();
    const run = await storescu({ port: dicomPort, aec: aet, paths: samples });

    expect(run.associationError).toBeUndefined();
    expect(run.results.map((r) => [path.basename(r.file), r.status])).toEqual(
      samples.map((f) => [path.basename(f), STATUS_SUCCESS]),
    );
    const sent = await Promise.all(samples.map((f) => readTag(f, 'SOPInstanceUID')));
    expect(run.results.map((r) => r.sopInstanceUid)).toEqual(sent);

    const ids = await rest<string[]>('/instances');
    const stored = await Promise.all(
      ids.map((id) => rest<{ MainDicomTags: { SOPInstanceUID: string } }>(`/instances/${id}`)),
    );
    expect(stored.map((i) => i.MainDicomTags.SOPInstanceUID).sort()).toEqual([...sent].sort());
  });

  it('reports a rejected association with no instance statuses', async () => {
    const { dicomPort } = orthanc();
    const run = await storescu({ port: dicomPort, aec: 'NOT_ITS_AET', paths: samples.slice(0, 1) });
    expect(run.associationError).toMatch(/Association Rejected/i);
    expect(run.results.every((r) => r.status === null)).toBe(true);
  });

  it('is configured from the options (modalities, REST on loopback)', async () => {
    const { rest } = orthanc();
    expect(await rest<string[]>('/modalities')).toEqual(['lumbar']);
    expect(await rest<{ DicomAet: string }>('/system')).toMatchObject({ DicomAet: 'HARNESS_PACS' });
  });
});

describe('dciodvfy parsing', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = makeTmpDir('harness');
  });
  afterAll(() => removeDir(tmp));

  it('reads the one known IOD error and the warnings of a real sample', async () => {
    const v = await dciodvfy(samples[0]);
    expect(v.errors).toEqual([
      'Error - Missing attribute Type 2C Conditional Element=<Laterality> Module=<GeneralSeries>',
    ]);
    // Warnings come in two forms: "Warning - ..." and "(gggg,eeee) VR Name  - Warning - ...".
    expect(v.warnings.some((w) => w.startsWith('Warning - '))).toBe(true);
    expect(v.warnings.some((w) => w.startsWith('(0x0051,0x100b)'))).toBe(true);
  });

  it('reports errors for a truncated copy', async () => {
    const broken = path.join(tmp, 'truncated.dcm');
    copyFileSync(samples[0], broken);
    truncateSync(broken, 5000);
    const v = await dciodvfy(broken);
    expect(v.errors).toContain('Error - Dicom dataset read failed');
  });
});
