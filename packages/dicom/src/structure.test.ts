import { readFileSync } from 'node:fs';
import { InputError } from '@lumbar/core';
import { sharedPath } from '../../../test/helpers/shared';
import { pixelDataProblem, readPart10 } from './read';
import { MAX_SEQUENCE_DEPTH, StructureError, checkPart10Structure, listElements } from './structure';

const SAMPLES = [
  'dcm_qa_ts/1.dcm',
  'dcm_qa_ts/2.dcm',
  'dcm_qa_ts/3.dcm',
  'dcm_qa_ts/4.dcm',
  'dcm_qa_ts/9.dcm',
  'dcm_qa_enh/Philips_IM_0027_fMAP.dcm',
  'dcm_qa_enh/Siemens_XA10_6_1.dcm',
  'pydicom-data/JPEG-LL.dcm',
  'pydicom-data/MR2_J2KR.dcm',
  'pydicom-data/emri_small_big_endian.dcm',
  'pydicom-data/emri_small_RLE.dcm',
];
const sample = (p: string): Buffer => readFileSync(sharedPath('data', 'dicom-samples', p));

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const tag = (g: number, e: number) => Buffer.from([g & 0xff, g >> 8, e & 0xff, e >> 8]);

/** `buf` with `insert` placed before the first top-level element whose tag is above `after`. */
function insertAfterTag(buf: Buffer, after: number, insert: Buffer): Buffer {
  const at = listElements(buf).find((e) => e.depth === 0 && e.tag > after)!.offset;
  return Buffer.concat([buf.subarray(0, at), insert, buf.subarray(at)]);
}

const reason = (buf: Buffer): string => {
  try {
    checkPart10Structure(buf);
  } catch (err) {
    expect(err).toBeInstanceOf(StructureError);
    return (err as Error).message;
  }
  return 'ok';
};

describe('checkPart10Structure', () => {
  it.each(SAMPLES)('accepts the real sample %s and finds its Pixel Data', (file) => {
    const s = checkPart10Structure(sample(file));
    expect(s.pixelData).not.toBeNull();
    expect(pixelDataProblem(readPart10(sample(file), file, { headerOnly: true }))).toBeNull();
  });

  const base = () => sample('dcm_qa_ts/1.dcm');
  const pixel = (buf: Buffer) => listElements(buf).find((e) => e.tag === 0x7fe00010)!;

  it('refuses sequences nested deeper than the limit, at once (dcmjs took 13 s and 400 MB for 10 000)', () => {
    const open = Buffer.concat([tag(8, 0x1140), Buffer.from('SQ\0\0'), u32(0xffffffff), tag(0xfffe, 0xe000)]);
    const level = Buffer.concat([open, u32(0xffffffff)]);
    const close = Buffer.concat([tag(0xfffe, 0xe00d), u32(0), tag(0xfffe, 0xe0dd), u32(0)]);
    const nest = (n: number) =>
      Buffer.concat([Buffer.alloc(level.length * n, level), Buffer.alloc(close.length * n, close)]);
    expect(reason(insertAfterTag(base(), 0x00081140, nest(MAX_SEQUENCE_DEPTH)))).toBe('ok');
    const t0 = Date.now();
    const deep = insertAfterTag(base(), 0x00081140, nest(10000));
    expect(reason(deep)).toMatch(/nested deeper than 16 levels/);
    expect(() => readPart10(deep, 'deep.dcm')).toThrow(InputError);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('refuses a length past the end of the file (dcmjs cut the value short and went on)', () => {
    const b = base();
    b.writeUInt32LE(0x7fffffff, pixel(b).lengthOffset);
    expect(reason(b)).toMatch(/\(7FE0,0010\) declares 2147483647 bytes, past the end of its file/);
  });

  it('refuses an undefined length on an element that cannot have one', () => {
    const ut = Buffer.concat([tag(8, 0x0006), Buffer.from('UT\0\0'), u32(0xffffffff)]);
    expect(reason(insertAfterTag(base(), 0x00080005, ut))).toMatch(
      /\(0008,0006\) \(UT\) has an undefined length/,
    );
  });

  it('refuses invalid VRs, and the wrong VR on the attributes the node reads', () => {
    const b = base();
    const e = listElements(b).find((x) => x.tag === 0x00080018)!;
    b.write('US', e.offset + 4, 'latin1');
    expect(reason(b)).toMatch(/\(0008,0018\) has VR US where the standard says UI/);
    b.write('Z!', e.offset + 4, 'latin1');
    expect(reason(b)).toMatch(/invalid VR "Z!"/);
  });

  it('refuses a missing or empty Transfer Syntax UID, trailing bytes and command elements', () => {
    const b = base();
    const ts = listElements(b).find((x) => x.tag === 0x00020010)!;
    b.fill(0, ts.valueOffset, ts.valueOffset + ts.length);
    expect(reason(b)).toMatch(/no Transfer Syntax UID/);
    expect(reason(Buffer.concat([base(), Buffer.from([1, 2, 3])]))).toMatch(/file ends inside/);
    const zeros = Buffer.concat([
      base().subarray(0, listElements(base()).find((x) => x.depth === 0)!.offset),
      Buffer.alloc(64),
    ]);
    expect(reason(zeros)).toMatch(/group 0000 element/);
  });

  it('refuses file meta elements that disagree with the group length (dcmjs would read another data set)', () => {
    // found by scripts/fuzz-dicom.js: one flipped bit made a meta element 2048 bytes longer; the walk took the
    // data set's first elements for meta, dcmjs (which goes by the group length) read them as the data set
    const b = Buffer.from(base());
    const meta = listElements(b).filter((e) => e.depth === -1);
    const last = meta[meta.length - 1];
    expect(last.lengthBytes).toBe(2);
    b.writeUInt16LE(last.length + 2048, last.lengthOffset);
    expect(reason(b)).toMatch(/runs past the group length/);
    const c = Buffer.from(base());
    c.writeUInt32LE(c.readUInt32LE(meta[0].valueOffset) + 8, meta[0].valueOffset); // group length 8 too long
    expect(reason(c)).toMatch(/its group length says/);
  });

  it('a file cut at an element boundary parses, and pixelDataProblem says what is missing', () => {
    const b = base();
    const cut = b.subarray(0, pixel(b).offset);
    expect(reason(cut)).toBe('ok');
    expect(pixelDataProblem(readPart10(cut, 'cut.dcm', { headerOnly: true }))).toBe('no Pixel Data');
    const short = Buffer.from(b.subarray(0, pixel(b).valueOffset + 1000));
    short.writeUInt32LE(1000, pixel(b).lengthOffset);
    expect(pixelDataProblem(readPart10(short, 'short.dcm', { headerOnly: true }))).toMatch(
      /Pixel Data has 1000 bytes, 384x384x1x1 at 16 bits needs 294912/,
    );
  });

  it('refuses encapsulated Pixel Data without its delimiter, and with fewer fragments than frames', () => {
    const b = sample('pydicom-data/emri_small_RLE.dcm');
    expect(reason(b.subarray(0, b.length - 8))).toMatch(/without its Sequence Delimitation Item/);
    const head = readPart10(b, 'rle.dcm', { headerOnly: true });
    expect(pixelDataProblem({ ...head, NumberOfFrames: '11' })).toMatch(/10 fragments for 11 frames/);
  });

  it('lists meta (-1), data set, item and fragment headers with their length fields', () => {
    const els = listElements(sample('pydicom-data/emri_small_RLE.dcm'));
    expect(els[0]).toMatchObject({ tag: 0x00020000, depth: -1, vr: 'UL', lengthBytes: 2 });
    expect(els.filter((e) => e.vr === 'item')).toHaveLength(11); // offset table + 10 frames
  });
});
