import { letterbox, letterboxGeometry, unletterboxMask } from './letterbox';

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
});
