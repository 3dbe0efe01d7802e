import { cropOwnMask, cropPadded, gradingCropBox, gradingInput } from './gradingInput';
import type { GrayImage } from './image';
import { discPlaces, pairwiseSum, spineDiscs } from './spine';

type Ellipse = [cx: number, cy: number, along: number, across: number, degrees: number];

/** A binary mask of filled ellipses (centre, semi-axes along and across, angle from horizontal). */
function ellipses(width: number, height: number, shapes: Ellipse[]): GrayImage {
  const data = new Uint8Array(width * height);
  for (const [cx, cy, a, b, deg] of shapes) {
    const t = (deg * Math.PI) / 180;
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const u = (x - cx) * Math.cos(t) + (y - cy) * Math.sin(t);
        const v = -(x - cx) * Math.sin(t) + (y - cy) * Math.cos(t);
        if ((u / a) ** 2 + (v / b) ** 2 <= 1) data[y * width + x] = 1;
      }
  }
  return { width, height, data };
}

/** Five flat discs on a slightly slanted spine, 45 rows apart, the lowest at row 220. */
const CHAIN: Ellipse[] = [40, 85, 130, 175, 220].map((y) => [100 + 0.1 * y, y, 22, 7, 5]);
const centre = (d: { cx: number; cy: number }) => [Math.round(d.cx), Math.round(d.cy)];

describe('spineDiscs', () => {
  it('keeps the discs of a spine, from the bottom up, with their shape', () => {
    const { discs, rejected, labels, places } = spineDiscs(ellipses(220, 300, CHAIN));
    expect(rejected).toEqual([]);
    expect(places).toEqual([1, 2, 3, 4, 5]);
    expect(discs.map(centre)).toEqual([
      [122, 220],
      [118, 175],
      [113, 130],
      [109, 85],
      [104, 40],
    ]);
    for (const d of discs) {
      expect(d.major).toBeCloseTo(44, 0); // 4 sqrt(eigenvalue) = the full axis of a filled ellipse
      expect(d.minor).toBeCloseTo(14, 0);
      expect(d.tilt).toBeCloseTo(5, 0);
      expect(labels[Math.round(d.cy) * 220 + Math.round(d.cx)]).toBe(d.label);
    }
  });

  it('rejects a round bowel loop beside the spine', () => {
    const { discs, rejected } = spineDiscs(ellipses(220, 300, [...CHAIN, [165, 200, 14, 13, 0]]));
    expect(discs).toHaveLength(5);
    expect(rejected.map((r) => [centre(r.disc), r.reason])).toEqual([[[165, 200], 'round']]);
  });

  it('rejects a steep sacral component under the lowest disc, which would have become L5-S1', () => {
    const { discs, rejected } = spineDiscs(ellipses(220, 300, [...CHAIN, [126, 265, 20, 6, 75]]));
    expect(discs.map(centre)[0]).toEqual([122, 220]);
    expect(rejected.map((r) => r.reason)).toEqual(['steep']);
    expect(rejected[0].disc.tilt).toBeGreaterThan(65);
  });

  it('keeps the larger of two discs side by side at one height', () => {
    // a flat fragment in front of the L4-L5 disc: near the chain's line (within tolerance), at the same rows
    const { discs, rejected } = spineDiscs(ellipses(220, 300, [...CHAIN, [82, 176, 10, 4, 5]]));
    expect(discs.map(centre)).toEqual([
      [122, 220],
      [118, 175],
      [113, 130],
      [109, 85],
      [104, 40],
    ]);
    expect(rejected.map((r) => [centre(r.disc), r.reason])).toEqual([[[82, 176], 'beside a larger disc']]);
  });

  it('keeps the larger when the smaller comes first from the bottom', () => {
    const pair: Ellipse[] = [
      [88, 222, 10, 4, 0], // lower centroid, smaller: met first, then replaced
      [122, 219, 22, 7, 0],
    ];
    const { discs, rejected } = spineDiscs(ellipses(220, 300, [...CHAIN.slice(0, 4), ...pair]));
    expect(discs.map(centre)[0]).toEqual([122, 219]);
    expect(discs).toHaveLength(5);
    expect(rejected.map((r) => [centre(r.disc), r.reason])).toEqual([[[88, 222], 'beside a larger disc']]);
  });

  it('drops a flat component off the line of the spine, and one much smaller than the largest', () => {
    const { discs, rejected } = spineDiscs(
      ellipses(220, 300, [...CHAIN, [30, 150, 16, 5, 0], [190, 20, 2, 1, 0]]),
    );
    expect(discs).toHaveLength(5);
    expect(rejected.map((r) => [centre(r.disc), r.reason])).toEqual([
      [[190, 20], 'small'],
      [[30, 150], 'off the spine'],
    ]);
  });

  it('counts a gap of more than 1.6 median steps as a missed disc: the discs above keep their level', () => {
    const gap = [40, 85, 130, 220, 265, 310].map((y): Ellipse => [110, y, 22, 7, 0]); // none at 175
    const { discs, places } = spineDiscs(ellipses(220, 360, gap));
    expect(discs.map((d) => Math.round(d.cy))).toEqual([310, 265, 220, 130, 85, 40]);
    expect(places).toEqual([1, 2, 3, 5, 6, 7]);
    // below four discs no gap is looked for
    expect(discPlaces(discs.slice(2, 5))).toEqual([1, 2, 3]);
  });

  it('fits no line below three components, and finds nothing in an empty mask', () => {
    const two = spineDiscs(
      ellipses(100, 100, [
        [30, 30, 18, 6, 0],
        [70, 70, 18, 6, 0],
      ]),
    );
    expect(two.discs.map(centre)).toEqual([
      [70, 70],
      [30, 30],
    ]);
    expect(two.rejected).toEqual([]);
    expect(spineDiscs({ width: 4, height: 3, data: new Uint8Array(12) })).toEqual({
      labels: new Int32Array(12),
      discs: [],
      rejected: [],
      places: [],
    });
  });
});

describe('pairwiseSum', () => {
  it("adds as numpy's np.add.reduce: sequentially below 8 values, in 8 lanes up to 128, halves above", () => {
    expect(pairwiseSum(new Float64Array([1, 2, 3]))).toBe(6);
    const big = Float64Array.from({ length: 1000 }, (_, i) => i);
    expect(pairwiseSum(big)).toBe(499500);
    // 16 values in 8 lanes: lane 1 adds 1 + 1 before meeting 2^53 (exact: 2^53 + 2); a sequential sum loses
    // each 1 on its own (2^53 + 1 rounds to 2^53)
    const a = new Float64Array(16);
    a[0] = 2 ** 53;
    a[1] = 1;
    a[9] = 1;
    expect(pairwiseSum(a)).toBe(2 ** 53 + 2);
    let seq = 0;
    for (const v of a) seq += v;
    expect(seq).toBe(2 ** 53);
  });
});

describe('gradingInput', () => {
  it('centres a square 1.6 disc widths wide on the disc, a tenth of its width towards the back', () => {
    // w = 20: half = (160 + 5) // 10 = 16, centre x = round(19.5) + (25 // 10) = 22, centre y = round(40.5) = 41
    expect(gradingCropBox({ x0: 10, x1: 29, cx: 19.5, cy: 40.5 })).toEqual({ x0: 6, y0: 25, x1: 38, y1: 57 });
    // w = 5: half = 4, centre x = round(2.49) + 1 = 3, centre y = round(0.4999) = 0: outside the image
    expect(gradingCropBox({ x0: 0, x1: 4, cx: 2.49, cy: 0.4999 })).toEqual({ x0: -1, y0: -4, x1: 7, y1: 4 });
  });

  it('pads with zeros outside the image', () => {
    const img = { width: 3, height: 2, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    expect(Array.from(cropPadded(img, { x0: -1, y0: -1, x1: 1, y1: 1 }).data)).toEqual([
      0, 0, 0, 0, 1, 2, 0, 4, 5,
    ]);
    expect(Array.from(cropPadded(img, { x0: 5, y0: 0, x1: 6, y1: 0 }).data)).toEqual([0, 0]);
  });

  it("cuts the disc's own component out of the label map with the same box, 255 inside", () => {
    const labels = Int32Array.from([1, 1, 2, 0, 1, 2]); // 3 x 2
    expect(Array.from(cropOwnMask(labels, 3, 2, 1, { x0: -1, y0: 0, x1: 1, y1: 2 }).data)).toEqual([
      0, 255, 255, 0, 0, 255, 0, 0, 0,
    ]);
  });

  it('gives 2 x 64 x 64 values in 0..1: the crop, then its CLAHE', () => {
    const img = { width: 80, height: 60, data: Uint8Array.from({ length: 4800 }, (_, i) => (i * 37) % 256) };
    const g = gradingInput(img, { x0: 20, x1: 49, cx: 35, cy: 30 }, { clahe: 'reference' });
    expect(g.tensor.dims).toEqual([1, 2, 64, 64]);
    expect(g.tensor.data).toHaveLength(2 * 64 * 64);
    expect(g.tensor.data[5]).toBe(Math.fround(g.resized.data[5] / 255));
    expect(g.tensor.data[4096 + 5]).toBe(Math.fround(g.enhanced.data[5] / 255));
    expect(g.own).toBeUndefined();
  });

  it("adds the disc's own component as a third channel, and needs the label map for it", () => {
    const img = { width: 80, height: 60, data: Uint8Array.from({ length: 4800 }, (_, i) => (i * 37) % 256) };
    const labels = new Int32Array(4800);
    for (let y = 25; y <= 35; y++) labels.fill(7, y * 80 + 20, y * 80 + 50);
    const disc = { x0: 20, x1: 49, cx: 34.5, cy: 30, label: 7 };
    const g = gradingInput(img, disc, { channels: 3, labels, clahe: 'reference' });
    expect(g.tensor.dims).toEqual([1, 3, 64, 64]);
    expect(g.tensor.data.subarray(0, 8192)).toEqual(
      gradingInput(img, disc, { clahe: 'reference' }).tensor.data,
    );
    expect(g.own!.data[32 * 64 + 28]).toBe(255); // the middle of the disc
    expect(g.own!.data[0]).toBe(0);
    expect(g.tensor.data[8192 + 32 * 64 + 28]).toBe(1);
    expect(() => gradingInput(img, disc, { channels: 3 })).toThrow(/needs the image's label map/);
    expect(() => gradingInput(img, disc, { channels: 4, labels })).toThrow(/2 or 3 channels/);
  });
});
