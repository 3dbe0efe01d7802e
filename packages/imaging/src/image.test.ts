import { cropImage, grayImage } from './image';

describe('grayImage / cropImage', () => {
  it('checks that the pixel count matches the size', () => {
    expect(grayImage(3, 2).data.length).toBe(6);
    expect(() => grayImage(3, 2, new Uint8Array(5))).toThrow(/needs 6 pixels/);
    expect(() => grayImage(-1, 2)).toThrow(/non-negative/);
  });

  it('cuts an inclusive box like image[y0:y1+1, x0:x1+1]', () => {
    const img = grayImage(
      4,
      3,
      Uint8Array.from({ length: 12 }, (_, i) => i),
    );
    expect(cropImage(img, { x0: 1, y0: 1, x1: 2, y1: 2 })).toEqual({
      width: 2,
      height: 2,
      data: Uint8Array.from([5, 6, 9, 10]),
    });
    expect(() => cropImage(img, { x0: 0, y0: 0, x1: 4, y1: 0 })).toThrow(/not inside/);
  });
});
