import { decodeRleFrame } from './rle';

/** An RLE frame: the 64-byte header, then the given segments. */
function frame(...segments: number[][]): Uint8Array {
  const header = new DataView(new ArrayBuffer(64));
  header.setUint32(0, segments.length, true);
  let offset = 64;
  segments.forEach((s, i) => {
    header.setUint32(4 + 4 * i, offset, true);
    offset += s.length;
  });
  return new Uint8Array([...new Uint8Array(header.buffer), ...segments.flat()]);
}

describe('decodeRleFrame (PS3.5 Annex G)', () => {
  it('decodes literal runs, replicate runs and skips the -128 no-op', () => {
    // 2 literals (1, 2), no-op, 3 x 7, 1 literal (9)
    const out = decodeRleFrame(frame([1, 1, 2, 128, 254, 7, 0, 9]), 6, 1);
    expect(Array.from(out)).toEqual([1, 2, 7, 7, 7, 9]);
  });

  it('puts the first segment in the high byte of 16-bit little-endian samples', () => {
    const out = decodeRleFrame(frame([1, 0x12, 0x34], [1, 0x56, 0x78]), 2, 2);
    expect(Array.from(new Uint16Array(out.buffer))).toEqual([0x1256, 0x3478]);
  });

  it('ignores padding after the last pixel', () => {
    expect(Array.from(decodeRleFrame(frame([253, 5, 0, 0]), 4, 1))).toEqual([5, 5, 5, 5]);
  });

  it('rejects short segments, wrong segment counts and missing headers', () => {
    expect(() => decodeRleFrame(frame([1, 1, 2]), 3, 1)).toThrow(/decodes to 2 of 3/);
    expect(() => decodeRleFrame(frame([0, 1]), 1, 2)).toThrow(/1 segments, expected 2/);
    expect(() => decodeRleFrame(new Uint8Array(10), 1, 1)).toThrow(/no header/);
  });
});
