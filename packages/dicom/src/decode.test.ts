import { readFileSync } from 'node:fs';
import { sharedPath } from '../../../test/helpers/shared';
import { decodeFrames, Frame } from './decode';
import { readPart10 } from './read';

// Real files in many transfer syntaxes (see shared/data/README.md, dicom-samples/).
const sample = (p: string): string => sharedPath('data', 'dicom-samples', p);
const decode = (p: string): Promise<Frame[]> => decodeFrames(readPart10(readFileSync(sample(p)), p), p);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('dcm_qa_ts: one Siemens MR image in nine transfer syntaxes', () => {
  let reference: Frame;
  beforeAll(async () => {
    [reference] = await decode('dcm_qa_ts/1.dcm'); // explicit VR little endian
  });

  it('reads the uncompressed reference with its geometry', () => {
    expect(reference.rows).toBe(384);
    expect(reference.columns).toBe(384);
    expect(reference.plane?.position).toEqual([-624, -661.82658862211, -6.5255017698948]);
    let max = 0;
    for (const v of reference.pixels) max = Math.max(max, v);
    expect(max).toBeGreaterThan(500); // 12-bit data with real signal
    expect(max).toBeLessThan(4096);
  });

  it.each([
    ['2.dcm', 'implicit VR little endian'],
    ['3.dcm', 'explicit VR big endian'],
    ['4.dcm', 'RLE lossless'],
    ['5.dcm', 'JPEG lossless SV1'],
    ['6.dcm', 'JPEG lossless SV1 (second encoder)'],
    ['7.dcm', 'JPEG-LS lossless'],
    ['8.dcm', 'JPEG-LS lossless (second encoder)'],
    ['9.dcm', 'JPEG 2000 lossless'],
  ])('%s (%s) decodes to exactly the same pixels', async (file) => {
    const [frame] = await decode(`dcm_qa_ts/${file}`);
    expect(maxAbsDiff(frame.pixels, reference.pixels)).toBe(0);
    expect(frame.plane).toEqual(reference.plane);
  });
});

describe('pydicom-data emri_small: one Enhanced MR object, 10 frames, in five syntaxes', () => {
  let reference: Frame[];
  beforeAll(async () => {
    reference = await decode('pydicom-data/emri_small.dcm');
  });

  it('has 10 distinct 64x64 frames (and no geometry: the file carries no functional groups)', () => {
    expect(reference).toHaveLength(10);
    expect(reference.map((f) => f.frameIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(maxAbsDiff(reference[0].pixels, reference[9].pixels)).toBeGreaterThan(0);
    expect(reference[0].plane).toBeNull();
  });

  it.each([
    'emri_small_big_endian',
    'emri_small_RLE',
    'emri_small_jpeg_ls_lossless',
    'emri_small_jpeg_2k_lossless',
  ])('%s decodes every frame to the same pixels', async (file) => {
    const frames = await decode(`pydicom-data/${file}.dcm`);
    expect(frames).toHaveLength(10);
    frames.forEach((f, i) => expect(maxAbsDiff(f.pixels, reference[i].pixels)).toBe(0));
  });
});

describe('pydicom-data MR2: JPEG 2000 lossless and lossy of the same image', () => {
  it('the lossy one stays close to the lossless one', async () => {
    const [lossless] = await decode('pydicom-data/MR2_J2KR.dcm');
    const [lossy] = await decode('pydicom-data/MR2_J2KI.dcm');
    expect(lossless.rows).toBe(1024);
    let sq = 0;
    let max = 0;
    for (let i = 0; i < lossless.pixels.length; i++) {
      sq += (lossless.pixels[i] - lossy.pixels[i]) ** 2;
      max = Math.max(max, lossless.pixels[i]);
    }
    const rms = Math.sqrt(sq / lossless.pixels.length);
    expect(rms).toBeGreaterThan(0); // it is lossy
    expect(rms / max).toBeLessThan(0.02);
  });
});

describe('Enhanced MR functional groups', () => {
  it('Siemens XA10: per-frame positions and spacing', async () => {
    const frames = await decode('dcm_qa_enh/Siemens_XA10_6_1.dcm');
    expect(frames).toHaveLength(6);
    expect(frames[0].plane?.position).toEqual([-109.79, -58.4773, -5.40356]);
    expect(frames[0].plane?.spacing).toEqual([3.375, 3.375]);
    const z = frames.map((f) => f.plane?.position[2] ?? NaN);
    expect(new Set(z).size).toBe(6);
  });

  it('Philips: per-frame rescale (magnitude and B0 map frames differ)', async () => {
    const ds = readPart10(readFileSync(sample('dcm_qa_enh/Philips_IM_0027_fMAP.dcm')));
    const frames = await decodeFrames(ds);
    expect(frames).toHaveLength(64);
    const stored = new Uint16Array((ds.PixelData as ArrayBuffer[])[0]);
    const perFrame = ds.PerFrameFunctionalGroupsSequence as Array<
      Record<string, Array<Record<string, number>>>
    >;
    const slopes = new Set<number>();
    frames.forEach((f, i) => {
      const { RescaleSlope: slope, RescaleIntercept: intercept } =
        perFrame[i].PixelValueTransformationSequence[0];
      slopes.add(slope);
      for (const k of [0, 1000, 2080, 4095]) {
        expect(f.pixels[k]).toBeCloseTo(stored[i * 4096 + k] * slope + intercept, 3);
      }
    });
    expect(slopes.size).toBe(2);
  });
});
