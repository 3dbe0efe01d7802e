// A real PACS (Orthanc) accepts the phantom study over DICOM, every instance with status 0x0000.
import { STATUS_SUCCESS, storescu } from '../helpers/dcmtk';
import { findFiles, makeTmpDir, removeDir } from '../helpers/files';
import { useOrthanc } from '../helpers/orthanc';
import { generatePhantom, studyDirs } from '../helpers/phantom';

interface OrthancInstance {
  MainDicomTags: { SOPInstanceUID: string };
}

describe('lumbar phantom --seed 7: sent to Orthanc', () => {
  const orthanc = useOrthanc({ aet: 'PHANTOM_PACS' });
  let out: string;
  beforeAll(async () => {
    out = makeTmpDir('phantom-orthanc');
    await generatePhantom(out, 7);
  });
  afterAll(() => removeDir(out));

  it('stores every instance of the study with 0x0000 and Orthanc holds exactly them', async () => {
    const { aet, dicomPort, rest } = orthanc();
    const [study, ...others] = studyDirs(out);
    expect(others).toEqual([]);
    const files = findFiles(study, '.dcm');
    expect(files.length).toBeGreaterThan(0);

    const run = await storescu({ port: dicomPort, aec: aet, paths: [study] });
    expect(run.associationError).toBeUndefined();
    expect(run.results.map((r) => r.file).sort()).toEqual(files);
    const notOk = run.results.filter((r) => r.status !== STATUS_SUCCESS);
    expect(notOk).toEqual([]);

    const studies = await rest<string[]>('/studies');
    expect(studies).toHaveLength(1);
    const instances = await rest<OrthancInstance[]>(`/studies/${studies[0]}/instances`);
    expect(instances).toHaveLength(files.length);
    const sent = run.results.map((r) => r.sopInstanceUid).sort();
    expect(instances.map((i) => i.MainDicomTags.SOPInstanceUID).sort()).toEqual(sent);
  });
});
