import {
  bboxWithMargin,
  discBbox,
  discComponents,
  levelsFromBottom,
  marginPixels,
  selectDiscComponents,
} from './discs';
import type { GrayImage } from './image';

function rects(width: number, height: number, boxes: [number, number, number, number][]): GrayImage {
  const data = new Uint8Array(width * height);
  // [y0, y1) x [x0, x1), as numpy slices m[y0:y1, x0:x1]
  for (const [y0, y1, x0, x1] of boxes)
    for (let y = y0; y < y1; y++) data.fill(1, y * width + x0, y * width + x1);
  return { width, height, data };
}

describe('bounding box +10 %', () => {
  it('adds 5 % each side, rounded half up', () => {
    expect([1, 9, 10, 29, 30, 31, 50, 100].map(marginPixels)).toEqual([0, 0, 1, 1, 2, 2, 3, 5]);
    // w = 30 -> 2 px each side; h = 10 -> 1 px each side
    expect(bboxWithMargin({ x0: 10, y0: 20, x1: 39, y1: 29 }, 100, 100)).toEqual({
      x0: 8,
      y0: 19,
      x1: 41,
      y1: 30,
    });
  });

  it('cuts the box at the border instead of shifting it', () => {
    expect(bboxWithMargin({ x0: 0, y0: 0, x1: 39, y1: 9 }, 100, 40)).toEqual({
      x0: 0,
      y0: 0,
      x1: 41,
      y1: 10,
    });
    expect(bboxWithMargin({ x0: 70, y0: 35, x1: 99, y1: 39 }, 100, 40)).toEqual({
      x0: 68,
      y0: 35,
      x1: 99,
      y1: 39,
    });
  });
});

describe('disc selection', () => {
  const m = rects(100, 100, [
    [10, 20, 10, 50], // top, 400 px
    [40, 48, 10, 50], // middle, 320 px
    [70, 80, 20, 60], // bottom, 400 px
    [95, 96, 95, 96], // speck: 1 * 10 < 400, dropped
  ]);

  it('drops components under a tenth of the largest', () => {
    expect(discComponents(m).map((c) => c.area)).toEqual([400, 320, 400]);
  });

  it('axial: the largest, ties to the first; sagittal: the two lowest', () => {
    expect(selectDiscComponents(m, 'axial').map((c) => c.y0)).toEqual([10]);
    expect(discBbox(m, 'axial')).toEqual(bboxWithMargin({ x0: 10, y0: 10, x1: 49, y1: 19 }, 100, 100));
    expect(selectDiscComponents(m, 'sagittal').map((c) => c.y0)).toEqual([70, 40]);
    expect(discBbox(m, 'sagittal')).toEqual(bboxWithMargin({ x0: 10, y0: 40, x1: 59, y1: 79 }, 100, 100));
  });

  it('returns null without a disc and refuses unknown views', () => {
    expect(discBbox(rects(5, 5, []), 'axial')).toBeNull();
    expect(() => selectDiscComponents(m, 'coronal' as never)).toThrow(/unknown view/);
  });

  it('numbers levels from the bottom, fragments 0', () => {
    const lv = levelsFromBottom(
      rects(20, 50, [
        [5, 8, 2, 10],
        [20, 23, 2, 10],
        [40, 43, 2, 10],
        [0, 1, 19, 20],
      ]),
    );
    const at = (x: number, y: number) => lv.data[y * 20 + x];
    expect([at(5, 41), at(5, 21), at(5, 6), at(19, 0), at(0, 0)]).toEqual([1, 2, 3, 0, 0]);
  });
});
