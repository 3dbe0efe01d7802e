import { letterbox, letterboxGeometry, probToMask, unletterboxMask, unletterboxProb } from './letterbox';
import { resizeBilinearFloat } from './resize';

describe('letterbox', () => {
  it('keeps the aspect ratio and centres the image', () => {
    expect(letterboxGeometry(256, 320, 256)).toEqual({
      width: 256,
      height: 320,
      size: 256,
      newWidth: 205,
      newHeight: 256,
      top: 0,
      left: 25,
    });
    expect(letterboxGeometry(1, 1000, 256)).toMatchObject({ newWidth: 1, newHeight: 256, left: 127 });
  });

  it('pads with zeros and maps a mask back within a pixel of the original', () => {
    const width = 256;
    const height = 320;
    const data = new Uint8Array(width * height);
    for (let y = 100; y < 140; y++) data.fill(1, y * width + 60, y * width + 200);
    const { image, geometry } = letterbox({ width, height, data }, 256, { nearest: true });
    expect(image.width).toBe(256);
    for (let y = 0; y < 256; y++) for (let x = 0; x < 25; x++) expect(image.data[y * 256 + x]).toBe(0);
    const back = unletterboxMask(image, geometry);
    expect([back.width, back.height]).toEqual([width, height]);
    let wrong = 0;
    for (let i = 0; i < data.length; i++) if (back.data[i] !== data[i]) wrong++;
    expect(wrong / data.length).toBeLessThan(0.01);
    expect(() => unletterboxMask({ width: 10, height: 10, data: new Uint8Array(100) }, geometry)).toThrow(
      /letterbox is 256x256/,
    );
  });

  it('maps probabilities back bilinearly (smooth edges), or as a thresholded nearest mask', () => {
    // a 384 letterbox of a 256 x 320 image (scale 1.2): a band whose probability ramps 0 -> 1 across 4 rows
    const g = letterboxGeometry(256, 320, 384);
    expect(g).toMatchObject({ newWidth: 307, newHeight: 384, left: 38 });
    const prob = new Float32Array(384 * 384);
    for (let y = 0; y < 384; y++)
      for (let x = g.left; x < g.left + g.newWidth; x++)
        prob[y * 384 + x] = Math.min(1, Math.max(0, (y - 200) / 4));
    const p = unletterboxProb(prob, g);
    expect(p.length).toBe(256 * 320);
    for (let y = 1; y < 320; y++) expect(p[y * 256 + 100]).toBeGreaterThanOrEqual(p[(y - 1) * 256 + 100]);
    const bilinear = probToMask(prob, g, 'bilinear-probability');
    const nearest = probToMask(prob, g, 'nearest-mask');
    // 0.5 is crossed at letterbox row 202, i.e. image row (202 + 0.5) / 1.2 - 0.5 = 168.25: rows 169 and down
    const firstRow = (m: { data: Uint8Array }) => {
      for (let y = 0; y < 320; y++) if (m.data[y * 256 + 100]) return y;
      return -1;
    };
    expect(firstRow(bilinear)).toBe(169);
    expect(Math.abs(firstRow(nearest) - 169)).toBeLessThanOrEqual(1);
    expect(() => probToMask(prob, g, 'cubic' as never)).toThrow(/unknown output.upsample/);
    expect(() => unletterboxProb(new Float32Array(10), g)).toThrow(/letterbox is 384x384/);
  });

  it('resizes float maps with half-pixel centres and clamped edges', () => {
    expect(Array.from(resizeBilinearFloat([0, 1], 2, 1, 4, 1))).toEqual([0, 0.25, 0.75, 1]);
    expect(Array.from(resizeBilinearFloat([0, 4, 8, 12], 4, 1, 2, 1))).toEqual([2, 10]);
    expect(Array.from(resizeBilinearFloat([3], 1, 1, 2, 3))).toEqual([3, 3, 3, 3, 3, 3]);
    expect(() => resizeBilinearFloat([1, 2, 3], 2, 2, 4, 4)).toThrow(RangeError);
  });
});
