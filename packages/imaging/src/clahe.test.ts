import { claheReference, roundHalfEven } from './clahe';
import { claheOpenCv, initImaging, isImagingReady, openCvVersion } from './opencv';
import type { GrayImage } from './image';

function noise(width: number, height: number, seed: number, lo = 0, span = 256): GrayImage {
  let s = seed;
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = lo + ((s >>> 16) % span);
  }
  return { width, height, data };
}

describe('roundHalfEven', () => {
  it('rounds halves to the even neighbour like cvRound', () => {
    expect([0.5, 1.5, 2.5, 127.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, 128, 2, 3]);
  });
});

describe('claheReference', () => {
  it('maps a flat image to one value and keeps the size', () => {
    const out = claheReference({ width: 64, height: 64, data: new Uint8Array(64 * 64).fill(90) });
    expect(new Set(out.data).size).toBe(1);
    expect([out.width, out.height]).toEqual([64, 64]);
  });

  it('stretches a narrow range of grey levels (limited by the clip limit)', () => {
    const img = noise(64, 64, 1, 100, 30);
    const out = claheReference(img);
    expect(Math.max(...out.data) - Math.min(...out.data)).toBeGreaterThan(2 * 30);
  });

  it('refuses empty images and bad parameters', () => {
    expect(() => claheReference({ width: 0, height: 0, data: new Uint8Array(0) })).toThrow();
    expect(() => claheReference(noise(8, 8, 1), { clipLimit: 0 })).toThrow();
  });
});

describe('OpenCV.js CLAHE', () => {
  it('says it is not started before initImaging()', () => {
    expect(isImagingReady()).toBe(false);
    expect(() => claheOpenCv(noise(64, 64, 1))).toThrow(/initImaging/);
  });

  it('starts once and equals the TypeScript port, on 64x64 crops and on sizes OpenCV pads', async () => {
    await Promise.all([initImaging(), initImaging()]);
    expect(isImagingReady()).toBe(true);
    expect(openCvVersion()).toMatch(/^\d+\.\d+\.\d+/);
    const sizes: [number, number][] = [
      [64, 64],
      [64, 64],
      [64, 64],
      [48, 36],
      [12, 20],
      [37, 51],
      [1, 9],
      [5, 3],
    ];
    sizes.forEach(([w, h], k) => {
      for (const img of [noise(w, h, k), noise(w, h, k + 100, 90, 40)]) {
        expect(claheReference(img).data).toEqual(claheOpenCv(img).data);
        expect(claheReference(img, { clipLimit: 4, tilesX: 2, tilesY: 3 }).data).toEqual(
          claheOpenCv(img, { clipLimit: 4, tilesX: 2, tilesY: 3 }).data,
        );
      }
    });
  });
});
