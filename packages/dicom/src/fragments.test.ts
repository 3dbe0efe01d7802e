import { encapsulatedFrames } from './fragments';

const ab = (...bytes: number[]): ArrayBuffer => new Uint8Array(bytes).buffer;
const asArrays = (r: Uint8Array[] | string) => (typeof r === 'string' ? r : r.map((f) => Array.from(f)));

describe('encapsulatedFrames', () => {
  it('one item per frame is taken as is (dcmjs already merged fragments by the offset table)', () => {
    expect(asArrays(encapsulatedFrames([ab(1, 2), ab(3, 4)], 2, 'rle'))).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('a single frame is the concatenation of every fragment', () => {
    expect(asArrays(encapsulatedFrames([ab(0xff, 0xd8), ab(5), ab(0xff, 0xd9)], 1, 'jpeg-ls'))).toEqual([
      [0xff, 0xd8, 5, 0xff, 0xd9],
    ]);
  });

  it('without an offset table, frames start at a codestream marker (JPEG SOI, J2K SOC)', () => {
    const items = [ab(0xff, 0xd8, 1, 1), ab(2, 2), ab(0xff, 0xd8, 3, 3), ab(0xff, 0x4f, 0xff, 0x51), ab(4)];
    expect(asArrays(encapsulatedFrames(items, 3, 'jpeg-2000'))).toEqual([
      [0xff, 0xd8, 1, 1, 2, 2],
      [0xff, 0xd8, 3, 3],
      [0xff, 0x4f, 0xff, 0x51, 4],
    ]);
    expect(encapsulatedFrames(items, 4, 'jpeg-2000')).toBe('5 fragments make 3 frames, not 4');
  });

  it('uses the Extended Offset Table when there is one', () => {
    const table = new DataView(new ArrayBuffer(16));
    table.setBigUint64(0, 0n, true);
    table.setBigUint64(8, 8n + 2n + 8n + 2n, true); // frame 2 starts at the third item
    const items = [ab(1, 1), ab(2, 2), ab(3, 3)];
    expect(asArrays(encapsulatedFrames(items, 2, 'jpeg-ls', table.buffer))).toEqual([
      [1, 1, 2, 2],
      [3, 3],
    ]);
  });

  it('RLE needs exactly one fragment per frame', () => {
    expect(encapsulatedFrames([ab(1), ab(2), ab(3)], 2, 'rle')).toMatch(/one per frame/);
  });
});
