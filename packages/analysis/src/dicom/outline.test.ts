import type { GrayImage } from '@lumbar/imaging';
import { outline } from './outline';

const mask = (w: number, h: number, on: (x: number, y: number) => boolean): GrayImage => {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = on(x, y) ? 1 : 0;
  return { width: w, height: h, data };
};

/** Shoelace area of a closed polyline x0, y0, ..., x0, y0. */
const area = (p: number[]) => {
  let a = 0;
  for (let i = 0; i + 3 < p.length; i += 2) a += p[i] * p[i + 3] - p[i + 2] * p[i + 1];
  return Math.abs(a) / 2;
};

describe('outline (the SR image region of a disc mask)', () => {
  it('follows the pixel edges of a square, clockwise from its top left corner, closed', () => {
    expect(outline(mask(8, 8, (x, y) => x >= 2 && x <= 4 && y >= 2 && y <= 4))).toEqual([
      2, 2, 5, 2, 5, 5, 2, 5, 2, 2,
    ]);
  });

  it('outlines one pixel at the image corner, and nothing in an empty mask', () => {
    expect(outline(mask(4, 4, (x, y) => x === 0 && y === 0))).toEqual([0, 0, 1, 0, 1, 1, 0, 1, 0, 0]);
    expect(outline(mask(4, 4, () => false))).toEqual([]);
  });

  it('keeps the largest 8-connected component only: diagonal neighbours are one, a far speck is dropped', () => {
    const m = mask(10, 10, (x, y) => (x === 1 && y === 1) || (x === 2 && y === 2) || (x === 8 && y === 8));
    const p = outline(m, 0);
    expect(area(p)).toBe(2);
    expect(Math.max(...p)).toBeLessThanOrEqual(3);
  });

  it('encloses exactly the pixels of an ellipse (no tolerance), and stays within a pixel of them with it', () => {
    for (const [a, b] of [
      [20, 6],
      [14, 9],
      [30, 4],
    ]) {
      const m = mask(80, 40, (x, y) => ((x - 40) / a) ** 2 + ((y - 20) / b) ** 2 <= 1);
      const pixels = m.data.reduce((s, v) => s + v, 0);
      const exact = outline(m, 0);
      expect(area(exact)).toBe(pixels);
      const simple = outline(m);
      expect(simple.length).toBeLessThan(exact.length);
      const perimeter = 2 * Math.PI * Math.sqrt((a * a + b * b) / 2);
      expect(Math.abs(area(simple) - pixels)).toBeLessThan(perimeter * 0.75);
      expect(simple.slice(0, 2)).toEqual(simple.slice(-2));
    }
  });

  it('outlines an L shape with its six corners', () => {
    const m = mask(6, 6, (x, y) => (x === 1 && y >= 1 && y <= 4) || (y === 4 && x >= 1 && x <= 3));
    const p = outline(m, 0);
    expect(area(p)).toBe(6);
    expect(p.length).toBe(2 * 7);
  });
});
