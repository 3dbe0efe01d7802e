/**
 * DICOM RLE Lossless (PS3.5 Annex G) for one sample per pixel: a 64-byte header of 16 little-endian
 * uint32 (segment count, then up to 15 segment offsets), then one PackBits segment per byte of the
 * sample, most significant byte first. Returns the frame as little-endian samples.
 */
export function decodeRleFrame(frame: Uint8Array, pixels: number, bytesPerSample: 1 | 2): Uint8Array {
  if (frame.length < 64) throw new Error(`RLE frame of ${frame.length} bytes has no header`);
  const header = new DataView(frame.buffer, frame.byteOffset, 64);
  const segments = header.getUint32(0, true);
  if (segments !== bytesPerSample) {
    throw new Error(`RLE frame has ${segments} segments, expected ${bytesPerSample}`);
  }
  const offsets: number[] = [];
  for (let i = 0; i < segments; i++) offsets.push(header.getUint32(4 + 4 * i, true));
  offsets.push(frame.length);
  for (let s = 0; s < segments; s++) {
    const start = offsets[s];
    const end = offsets[s + 1];
    if (start < 64 || end > frame.length || start > end) throw new Error(`RLE segment ${s} has a bad offset`);
    // PackBits turns 2 bytes into at most 128: a header claiming more pixels is refused before allocating
    if (pixels > (end - start) * 64) throw new Error(`RLE segment ${s} is too short for ${pixels} pixels`);
  }
  const out = new Uint8Array(pixels * bytesPerSample);
  for (let s = 0; s < segments; s++) {
    const start = offsets[s];
    const end = offsets[s + 1];
    // Segment 0 holds the most significant bytes: in little-endian output that is the last byte.
    const written = unpackBits(frame, start, end, out, bytesPerSample - 1 - s, bytesPerSample, pixels);
    if (written < pixels) throw new Error(`RLE segment ${s} decodes to ${written} of ${pixels} bytes`);
  }
  return out;
}

/** PackBits: writes decoded bytes to out[first + k * stride] for k < count; returns how many it wrote. */
function unpackBits(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  first: number,
  stride: number,
  count: number,
): number {
  let i = start;
  let k = 0;
  while (i < end && k < count) {
    const n = src[i++];
    if (n < 128) {
      // n + 1 literal bytes
      const stop = Math.min(i + n + 1, end);
      for (; i < stop && k < count; i++, k++) out[first + k * stride] = src[i];
      i = stop;
    } else if (n > 128) {
      // the next byte repeated 257 - n times
      if (i >= end) break;
      const value = src[i++];
      for (let r = 257 - n; r > 0 && k < count; r--, k++) out[first + k * stride] = value;
    }
    // n === 128 is a no-op
  }
  return k;
}
