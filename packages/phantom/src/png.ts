import { PNG } from 'pngjs';

/** Encodes an 8-bit greyscale image as PNG (deterministic bytes for the same pixels). */
export function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, {
    colorType: 0,
    inputColorType: 0,
    inputHasAlpha: false,
    deflateLevel: 6,
    filterType: 0,
  });
}

export function decodeGrayPng(buf: Buffer): { pixels: Uint8Array; width: number; height: number } {
  const png = PNG.sync.read(buf);
  const pixels = new Uint8Array(png.width * png.height);
  // pngjs always decodes to RGBA
  for (let i = 0; i < pixels.length; i++) pixels[i] = png.data[i * 4];
  return { pixels, width: png.width, height: png.height };
}
