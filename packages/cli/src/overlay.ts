import { PNG } from 'pngjs';
import type { KeyImage } from '@lumbar/pipeline';

/** One colour per disc label (1 T12-L1 .. 6 L5-S1); the SEG recommends the same for display. */
export const COLOURS: Array<[number, number, number]> = [
  [0, 0, 0],
  [120, 120, 255],
  [80, 200, 255],
  [80, 255, 160],
  [255, 220, 60],
  [255, 140, 40],
  [255, 60, 60],
];

/** An RGB PNG of a key image: the grey image, disc masks tinted by level, the classifier box in white. */
export function renderKeyImage(k: KeyImage): Buffer {
  const { width, height, rgb } = renderKeyImageRgb(k);
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = rgb;
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

/** The key image as 8-bit RGB pixels (row-major, interleaved), for the PNG and the DICOM key image. */
export function renderKeyImageRgb(k: KeyImage): { width: number; height: number; rgb: Buffer } {
  const { width, height, data } = k.image;
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const g = data[i];
    const m = k.mask.data[i];
    const edge = m && isEdge(k.mask.data, width, height, i);
    const [r, gg, b] = COLOURS[Math.min(m, 6)];
    const a = edge ? 1 : m ? 0.3 : 0;
    rgb[i * 3] = Math.round(g * (1 - a) + r * a);
    rgb[i * 3 + 1] = Math.round(g * (1 - a) + gg * a);
    rgb[i * 3 + 2] = Math.round(g * (1 - a) + b * a);
  }
  if (k.box) {
    const { x0, y0, x1, y1 } = k.box;
    for (let x = x0; x <= x1; x++)
      for (const y of [y0, y1]) rgb.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
    for (let y = y0; y <= y1; y++)
      for (const x of [x0, x1]) rgb.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  }
  return { width, height, rgb };
}

function isEdge(m: Uint8Array, w: number, h: number, i: number): boolean {
  const x = i % w;
  const y = (i - x) / w;
  return (
    x === 0 ||
    y === 0 ||
    x === w - 1 ||
    y === h - 1 ||
    m[i - 1] !== m[i] ||
    m[i + 1] !== m[i] ||
    m[i - w] !== m[i] ||
    m[i + w] !== m[i]
  );
}
