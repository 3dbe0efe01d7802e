import { InputError } from '@lumbar/core';
import { readFileSync } from 'node:fs';
import { sharedPath } from '../../../test/helpers/shared';
import { decodeFrames } from './decode';
import { readPart10 } from './read';
import type { Dataset } from './write';

const sample = (p: string): Buffer => readFileSync(sharedPath('data', 'dicom-samples', p));

/** Parses and decodes; resolves to 'ok' or to the InputError message; anything else rejects. */
async function outcome(buf: Buffer, name: string): Promise<string> {
  try {
    await decodeFrames(readPart10(buf, name), name);
    return 'ok';
  } catch (err) {
    if (err instanceof InputError) return err.message;
    throw err;
  }
}

/** A small deterministic generator, so that a failure can be replayed. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

describe('files that are not (whole) DICOM give a clear InputError', () => {
  it('random bytes', async () => {
    const rnd = lcg(1);
    const buf = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(rnd() * 256)));
    expect(await outcome(buf, 'random.bin')).toMatch(/^random\.bin: not a DICOM Part 10 file/);
    buf.write('DICM', 128, 'latin1');
    expect(await outcome(buf, 'random.dcm')).toMatch(/^random\.dcm: cannot parse DICOM/);
  });

  it('an empty file and a PNG', async () => {
    expect(await outcome(Buffer.alloc(0), 'empty.dcm')).toMatch(/not a DICOM Part 10 file/);
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      Buffer.alloc(300),
    ]);
    expect(await outcome(png, 'mask.png')).toMatch(/mask\.png: not a DICOM Part 10 file/);
  });

  it.each([
    'dcm_qa_ts/1.dcm',
    'dcm_qa_ts/3.dcm',
    'dcm_qa_ts/4.dcm',
    'dcm_qa_ts/5.dcm',
    'dcm_qa_ts/7.dcm',
    'dcm_qa_ts/9.dcm',
    'pydicom-data/emri_small_RLE.dcm',
    'pydicom-data/emri_small_jpeg_2k_lossless.dcm',
    'dcm_qa_enh/Siemens_XA10_6_1.dcm',
  ])('%s cut short anywhere is rejected, never decoded', async (file) => {
    const full = sample(file);
    for (const fraction of [0.001, 0.01, 0.2, 0.5, 0.8, 0.95, 0.999]) {
      const cut = Math.max(1, Math.floor(full.length * fraction));
      expect(await outcome(full.subarray(0, cut), file)).toMatch(
        new RegExp(`^${file.replace('.', '\\.')}: `),
      );
    }
  });

  it('corrupted compressed streams either decode or give an InputError, quickly', async () => {
    const rnd = lcg(7);
    for (const file of ['dcm_qa_ts/4.dcm', 'dcm_qa_ts/5.dcm', 'dcm_qa_ts/7.dcm', 'dcm_qa_ts/9.dcm']) {
      const full = sample(file);
      for (let t = 0; t < 8; t++) {
        const buf = Buffer.from(full);
        for (let k = 0; k < 20; k++)
          buf[Math.floor(buf.length * (0.4 + 0.6 * rnd()))] = Math.floor(rnd() * 256);
        const start = Date.now();
        await expect(outcome(buf, file)).resolves.toEqual(expect.any(String));
        expect(Date.now() - start).toBeLessThan(3000);
      }
    }
  });
});

describe('images we do not decode are rejected with the reason', () => {
  const base = (): Dataset => readPart10(sample('dcm_qa_ts/1.dcm'), '1.dcm');

  it('colour', async () => {
    const ds = { ...base(), SamplesPerPixel: 3, PhotometricInterpretation: 'RGB' };
    await expect(decodeFrames(ds, 'colour.dcm')).rejects.toThrow(
      /colour\.dcm: colour images are not supported/,
    );
  });

  it('no pixel data', async () => {
    const ds = base();
    delete ds.PixelData;
    await expect(decodeFrames(ds, 'sr.dcm')).rejects.toThrow(/sr\.dcm: no pixel data/);
  });

  it('an unsupported transfer syntax', async () => {
    const ds = { ...base(), _meta: { TransferSyntaxUID: '1.2.840.10008.1.2.4.201' } };
    await expect(decodeFrames(ds, 'htj2k.dcm')).rejects.toThrow(
      /unsupported transfer syntax 1\.2\.840\.10008\.1\.2\.4\.201/,
    );
  });

  it('1-bit and 32-bit data', async () => {
    await expect(decodeFrames({ ...base(), BitsAllocated: 1 }, 'a')).rejects.toThrow(InputError);
    await expect(decodeFrames({ ...base(), BitsAllocated: 32 }, 'a')).rejects.toThrow(/BitsAllocated 32/);
  });

  it('pixel data shorter than Rows x Columns x frames', async () => {
    await expect(decodeFrames({ ...base(), NumberOfFrames: 2 }, 'short.dcm')).rejects.toThrow(
      /short\.dcm: pixel data truncated: 294912 of 589824 bytes/,
    );
  });
});
