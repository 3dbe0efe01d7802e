import { maskOf, thresholdMask, toTensor } from './tensor';

describe('tensors and masks', () => {
  it('divides by 255 in float32 and replicates grey to every channel (NCHW)', () => {
    const t = toTensor({ width: 2, height: 1, data: Uint8Array.from([0, 255]) }, 3);
    expect(t.dims).toEqual([1, 3, 1, 2]);
    expect([...t.data]).toEqual([0, 1, 0, 1, 0, 1]);
    expect(toTensor({ width: 1, height: 1, data: Uint8Array.from([51]) }).data[0]).toBe(
      Math.fround(51 / 255),
    );
  });

  it('selects a label and thresholds probabilities above 0.5', () => {
    expect([...maskOf({ width: 4, height: 1, data: Uint8Array.from([0, 1, 2, 3]) }, 2).data]).toEqual([
      0, 0, 1, 0,
    ]);
    expect([...thresholdMask(Float32Array.from([0.2, 0.5, 0.51, 1]), 4, 1).data]).toEqual([0, 0, 1, 1]);
  });
});
