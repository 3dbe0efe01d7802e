import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeTmpDir, removeDir } from '../../../test/helpers/files';
import { runTool } from '../../../test/helpers/run';
import { sharedPath } from '../../../test/helpers/shared';
import { decodeFrames, Frame } from './decode';
import { transferSyntaxUid } from './pixel-module';
import { readPart10 } from './read';

// DCMTK encodes what the shared samples lack and decodes independent references to compare with.
let dir: string;
beforeAll(() => {
  dir = makeTmpDir('dicom-decode');
});
afterAll(() => removeDir(dir));

const sample = (p: string): string => sharedPath('data', 'dicom-samples', p);
const decode = (file: string): Promise<Frame[]> => decodeFrames(readPart10(readFileSync(file), file), file);
const syntaxOf = (file: string): string => transferSyntaxUid(readPart10(readFileSync(file)));

async function dcmtk(tool: string, ...args: string[]): Promise<string> {
  const out = path.join(
    dir,
    `${tool}-${path.basename(args[args.length - 1])}-${Math.random().toString(36).slice(2)}.dcm`,
  );
  const run = await runTool(tool, [...args, out]);
  if (run.code !== 0) throw new Error(`${tool} failed: ${run.stderr}${run.stdout}`);
  return out;
}

function maxAbsDiff(a: Frame[], b: Frame[]): number {
  expect(a.map((f) => f.pixels.length)).toEqual(b.map((f) => f.pixels.length));
  let m = 0;
  a.forEach((f, k) => f.pixels.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[k].pixels[i])))));
  return m;
}

const original = sample('dcm_qa_ts/1.dcm');

it('JPEG lossless process 14 with selection value 6 (1.2.840.10008.1.2.4.57) is exact', async () => {
  const file = await dcmtk('dcmcjpeg', '+el', '+sv', '6', original);
  expect(syntaxOf(file)).toBe('1.2.840.10008.1.2.4.57');
  expect(maxAbsDiff(await decode(file), await decode(original))).toBe(0);
});

it('JPEG-LS near-lossless (1.2.840.10008.1.2.4.81) matches dcmdjpls and stays within NEAR of the original', async () => {
  const file = await dcmtk('dcmcjpls', '+en', '+md', '3', original);
  expect(syntaxOf(file)).toBe('1.2.840.10008.1.2.4.81');
  const frames = await decode(file);
  expect(maxAbsDiff(frames, await decode(await dcmtk('dcmdjpls', file)))).toBe(0);
  const error = maxAbsDiff(frames, await decode(original));
  expect(error).toBeGreaterThan(0);
  expect(error).toBeLessThanOrEqual(3);
});

it('JPEG baseline 8-bit (1.2.840.10008.1.2.4.50) agrees with dcmdjpeg within one grey level', async () => {
  const file = await dcmtk('dcmcjpeg', '+eb', original);
  expect(syntaxOf(file)).toBe('1.2.840.10008.1.2.4.50');
  const frames = await decode(file);
  const reference = await decode(await dcmtk('dcmdjpeg', file)); // libijg vs libjpeg-turbo IDCT
  expect(maxAbsDiff(frames, reference)).toBeLessThanOrEqual(1);
  expect(frames[0].pixels.reduce((a, b) => Math.max(a, b))).toBeLessThanOrEqual(255);
});

it('12-bit lossy JPEG (process 4), which libjpeg-turbo 8-bit cannot decode, is refused clearly', async () => {
  const file = await dcmtk('dcmcjpeg', '+ee', original);
  await expect(decode(file)).rejects.toThrow(/JPEG Extended .* 12 bits stored .* not supported/);
});

it('RLE of 8-bit data (one segment) matches dcmdrle', async () => {
  const eight = await dcmtk('dcmdjpeg', await dcmtk('dcmcjpeg', '+eb', original));
  const rle = await dcmtk('dcmcrle', eight);
  expect(maxAbsDiff(await decode(rle), await decode(await dcmtk('dcmdrle', rle)))).toBe(0);
  expect(maxAbsDiff(await decode(rle), await decode(eight))).toBe(0);
});

it('a multi-frame object with an empty offset table and several fragments per frame splits by frame', async () => {
  const emri = sample('pydicom-data/emri_small.dcm');
  const file = await dcmtk('dcmcjpls', '+fs', '1', '-ot', emri);
  const items = (readPart10(readFileSync(file)).PixelData as ArrayBuffer[]).length;
  expect(items).toBeGreaterThan(10); // dcmjs hands us fragments, not frames
  expect(maxAbsDiff(await decode(file), await decode(emri))).toBe(0);
});

it('signed 16-bit JPEG lossless (pydicom JPEG-LL, two fragments) matches dcmdjpeg', async () => {
  const file = sample('pydicom-data/JPEG-LL.dcm');
  const frames = await decode(file);
  expect(maxAbsDiff(frames, await decode(await dcmtk('dcmdjpeg', file)))).toBe(0);
  expect(frames[0].rows).toBe(1024);
});

it('signed data (PixelRepresentation 1) is sign-extended from BitsStored', async () => {
  const file = path.join(dir, 'signed.dcm');
  copyFileSync(original, file);
  expect((await runTool('dcmodify', ['-nb', '-m', '(0028,0103)=1', file])).code).toBe(0);
  const [signed] = await decode(file);
  const [plain] = await decode(original);
  const expected = plain.pixels.map((v) => (v >= 2048 ? v - 4096 : v)); // 12 bits stored
  expect(signed.pixels.every((v, i) => v === expected[i])).toBe(true);
  expect(expected.some((v) => v < 0)).toBe(true);
});

it('MONOCHROME1 is inverted within the stored range, so brighter stays higher', async () => {
  const file = path.join(dir, 'mono1.dcm');
  copyFileSync(original, file);
  expect((await runTool('dcmodify', ['-nb', '-m', '(0028,0004)=MONOCHROME1', file])).code).toBe(0);
  const [inverted] = await decode(file);
  const [plain] = await decode(original);
  for (const i of [0, 1000, 70000, 147455]) expect(inverted.pixels[i]).toBe(4095 - plain.pixels[i]);
});
