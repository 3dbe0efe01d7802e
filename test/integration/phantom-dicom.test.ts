// Every DICOM file the phantom writes must pass dicom3tools' IOD validator with zero errors.
import path from 'node:path';
import { dciodvfy } from '../helpers/dcmtk';
import { findFiles, makeTmpDir, removeDir } from '../helpers/files';
import { generatePhantom } from '../helpers/phantom';
import { mapLimit } from '../helpers/run';

describe('lumbar phantom --seed 7: DICOM validity', () => {
  let out: string;
  beforeAll(async () => {
    out = makeTmpDir('phantom-dicom');
    await generatePhantom(out, 7);
  });
  afterAll(() => removeDir(out));

  it('writes DICOM files that dciodvfy finds no error in', async () => {
    const files = findFiles(out, '.dcm');
    expect(files.length).toBeGreaterThan(0);

    const checks = await mapLimit(files, 4, async (file) => ({ file, ...(await dciodvfy(file)) }));
    const failures = checks
      .filter((c) => c.errors.length > 0)
      .map((c) => `${path.relative(out, c.file)}:\n  ${c.errors.join('\n  ')}`);
    if (failures.length > 0) {
      console.error(`dciodvfy errors in ${failures.length}/${files.length} files:\n${failures.join('\n')}`);
    }
    expect(failures).toEqual([]);
  });
});
