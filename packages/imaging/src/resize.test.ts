import { bilinearAxis, nearestAxis, resizeBilinear, resizeNearest } from './resize';

const ramp = (w: number, h: number) => ({
  width: w,
  height: h,
  data: Uint8Array.from({ length: w * h }, (_, i) => (i * 37) % 256),
});

describe('resizeBilinear', () => {
  it('is the identity at the same size', () => {
    const img = ramp(8, 5);
    expect(resizeBilinear(img, 8, 5)).toEqual(img);
  });

  it('averages 2x2 blocks, rounding half up, when halving', () => {
    const img = ramp(8, 8);
    const down = resizeBilinear(img, 4, 4);
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++) {
        const p = (yy: number, xx: number) => img.data[(2 * y + yy) * 8 + 2 * x + xx];
        const sum = p(0, 0) + p(0, 1) + p(1, 0) + p(1, 1);
        expect(down.data[y * 4 + x]).toBe(Math.floor((sum * 4 + 8) / 16));
      }
  });

  it('uses half-pixel centres with integer weights (training/preprocess/resize.py _bilinear_axis)', () => {
    // src 2 -> dst 4: n = (2d+1)*2 - 4 = -2, 2, 6, 10 on the scale 8
    expect(bilinearAxis(2, 4)).toEqual({
      i0: Int32Array.from([0, 0, 0, 1]),
      i1: Int32Array.from([1, 1, 1, 1]),
      w0: Int32Array.from([8, 6, 2, 8]),
      w1: Int32Array.from([0, 2, 6, 0]),
    });
    const up = resizeBilinear({ width: 2, height: 1, data: Uint8Array.from([0, 100]) }, 4, 1);
    expect([...up.data]).toEqual([0, 25, 75, 100]);
  });

  it('keeps a constant image constant at any size and refuses empty sizes', () => {
    const flat = { width: 7, height: 3, data: new Uint8Array(21).fill(200) };
    expect(resizeBilinear(flat, 64, 64).data.every((v) => v === 200)).toBe(true);
    expect(() => resizeBilinear(flat, 0, 3)).toThrow();
    expect(() => resizeBilinear({ width: 0, height: 0, data: new Uint8Array(0) }, 4, 4)).toThrow();
  });
});

describe('resizeNearest', () => {
  it('takes src index ((2d+1)*src) // (2*dst)', () => {
    expect([...nearestAxis(5, 2)]).toEqual([1, 3]);
    expect([...nearestAxis(2, 5)]).toEqual([0, 0, 1, 1, 1]);
    const img = { width: 3, height: 1, data: Uint8Array.from([1, 2, 3]) };
    expect([...resizeNearest(img, 6, 2).data]).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
  });
});
