import { percentileWindow, toUint8 } from './window';

describe('toUint8', () => {
  it('windows from the 0.5th to the 99.5th percentile and rounds half up', () => {
    const v = Array.from({ length: 1000 }, (_, i) => i); // 0..999
    expect(percentileWindow(v)).toEqual({ lo: 4, hi: 994 });
    const u = toUint8(v);
    expect(u[0]).toBe(0);
    expect(u[4]).toBe(0);
    expect(u[994]).toBe(255);
    expect(u[999]).toBe(255);
    // (499 - 4) * 255 / 990 = 127.5 -> 128 (half up)
    expect(u[499]).toBe(128);
  });

  it('maps a constant image to zeros instead of dividing by zero', () => {
    expect([...toUint8([7, 7, 7, 7])]).toEqual([0, 0, 0, 0]);
    expect(toUint8([]).length).toBe(0);
  });

  it('ignores a few extreme outliers', () => {
    const v = new Uint16Array(10000).fill(100);
    for (let i = 0; i < 5000; i++) v[i] = 200;
    v[0] = 65535;
    expect(percentileWindow(v)).toEqual({ lo: 100, hi: 200 });
  });
});
