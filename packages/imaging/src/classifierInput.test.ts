import { classifierInput, cropDisc, segmentationInput } from './classifierInput';
import { claheReference } from './clahe';
import { discBbox } from './discs';
import { cropImage } from './image';
import { initImaging } from './opencv';
import { resizeBilinear } from './resize';

const width = 90;
const height = 120;
const image = {
  width,
  height,
  data: Uint8Array.from({ length: width * height }, (_, i) => (i * 7919) % 256),
};
const mask = { width, height, data: new Uint8Array(width * height) };
for (let y = 50; y < 70; y++) mask.data.fill(1, y * width + 20, y * width + 60);

beforeAll(() => initImaging());

describe('classifierInput', () => {
  it('crops the box +10 %, resizes to 64x64, applies CLAHE and makes a (1, 3, 64, 64) tensor', () => {
    const out = classifierInput(image, mask, 'axial');
    if (!out) throw new Error('no crop');
    const box = discBbox(mask, 'axial');
    expect(out.box).toEqual(box);
    expect(out.box).toEqual({ x0: 18, y0: 49, x1: 61, y1: 70 });
    const resized = resizeBilinear(cropImage(image, out.box), 64, 64);
    expect(out.resized).toEqual(resized);
    expect(out.crop).toEqual(claheReference(resized));
    expect(out.tensor.dims).toEqual([1, 3, 64, 64]);
    expect(out.tensor.data[4096 * 2 + 5]).toBe(Math.fround(out.crop.data[5] / 255));
  });

  it('gives the same crop with either CLAHE, none without a disc, and refuses mismatched sizes', () => {
    expect(cropDisc(image, mask, 'sagittal', { clahe: 'reference' })?.crop).toEqual(
      cropDisc(image, mask, 'sagittal')?.crop,
    );
    expect(cropDisc(image, mask, 'axial', { clahe: false })?.crop).toEqual(
      cropDisc(image, mask, 'axial')?.resized,
    );
    expect(classifierInput(image, { ...mask, data: new Uint8Array(width * height) }, 'axial')).toBeNull();
    expect(() => cropDisc(image, { width: 1, height: 1, data: new Uint8Array(1) }, 'axial')).toThrow(
      /differ/,
    );
  });
});

describe('segmentationInput', () => {
  it('letterboxes to (1, 1, 256, 256) / 255', () => {
    const { tensor, geometry } = segmentationInput(image);
    expect(tensor.dims).toEqual([1, 1, 256, 256]);
    expect(geometry).toMatchObject({ newWidth: 192, newHeight: 256, left: 32, top: 0 });
    expect(tensor.data[0]).toBe(0);
  });
});
