import * as dcmjs from 'dcmjs';
import { isUid } from './uid';

/**
 * A structural check of a Part 10 file before dcmjs parses it: every element header, length and sequence
 * is walked (values are skipped, never decoded), so that damaged files fail fast with the place and the
 * reason instead of reaching the parser. It guards against what dcmjs does not: lengths that run past the
 * end of the file or of their item (dcmjs silently cuts such a value short), undefined lengths on elements
 * that cannot have one, unknown explicit VRs, a missing transfer syntax, bytes left over after the last
 * element, and sequences nested so deep that dcmjs takes quadratic time and memory to fail (10 000 levels,
 * 160 KB: 13 s and 400 MB).
 */

/** Deepest sequence nesting accepted. Real MR objects stay under 6 (enhanced MR functional groups: 3). */
export const MAX_SEQUENCE_DEPTH = 16;

export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';
const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';

const UNDEFINED = 0xffffffff;
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const SHORT_VRS = new Set('AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US'.split(' '));
const PIXEL_DATA_TAG = 0x7fe00010;
/**
 * The VRs the standard gives the attributes the node reads to file and decode an image (UN is also
 * accepted: a relay that did not know the tag). Other attributes with a wrong VR are tolerated, as DCMTK and
 * Orthanc tolerate them; these would be read as something else (a UID as numbers, a size as text).
 */
const KEY_VRS = new Map<number, readonly string[]>([
  [0x00080016, ['UI']], // SOP Class UID
  [0x00080018, ['UI']], // SOP Instance UID
  [0x0020000d, ['UI']], // Study Instance UID
  [0x0020000e, ['UI']], // Series Instance UID
  [0x00280002, ['US']], // Samples per Pixel
  [0x00280004, ['CS']], // Photometric Interpretation
  [0x00280008, ['IS']], // Number of Frames
  [0x00280010, ['US']], // Rows
  [0x00280011, ['US']], // Columns
  [0x00280100, ['US']], // Bits Allocated
  [0x00280101, ['US']], // Bits Stored
  [0x00280102, ['US']], // High Bit
  [0x00280103, ['US']], // Pixel Representation
  [PIXEL_DATA_TAG, ['OB', 'OW']],
]);

/** What the walk learnt: the transfer syntax and where Pixel Data is. */
export interface Part10Structure {
  transferSyntaxUid: string;
  /** Byte offset of the data set (after the file meta information). */
  dataSetOffset: number;
  /** Top-level Pixel Data, if any: its value length (native) or its fragments (encapsulated). */
  pixelData: { encapsulated: false; bytes: number } | { encapsulated: true; fragments: number } | null;
  /**
   * Byte offset just past the header of the top-level Pixel Data element (where its value or first item
   * starts); null without one. Everything a header-only read needs lies before it.
   */
  pixelDataValueOffset: number | null;
  /** True when the data set is deflated: only the meta information was walked (dcmjs inflates the rest). */
  deflated: boolean;
}

/** A structural defect, with the byte offset where it was found. */
export class StructureError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = 'StructureError';
  }
}

/** One element (or item, or fragment) header, as listElements reports it. */
export interface ElementInfo {
  tag: number;
  /** Explicit VR; 'SQ' or 'implicit' in implicit VR; 'item' for items and fragments. */
  vr: string;
  /** Where its header starts, where its length field is (2 or 4 bytes) and where its value starts. */
  offset: number;
  lengthOffset: number;
  lengthBytes: 2 | 4;
  length: number;
  valueOffset: number;
  /** -1 for the file meta, 0 for the top level of the data set (and Pixel Data fragments), +1 per sequence. */
  depth: number;
  bigEndian: boolean;
}

interface Syntax {
  implicit: boolean;
  bigEndian: boolean;
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
const tagName = (tag: number) => `(${hex4(tag >>> 16)},${hex4(tag & 0xffff)})`;

const dictionary = dcmjs.data.DicomMetaDictionary.dictionary as Record<string, { vr?: string } | undefined>;
/** Implicit VR: whether the data dictionary makes this tag a sequence. */
const isSequenceTag = (tag: number) => dictionary[tagName(tag)]?.vr === 'SQ';

/**
 * Thrown by a walk over the first bytes of a file only (checkPart10Structure with `totalLength`) when it must
 * read past them: the caller gives it more bytes, or the whole file.
 */
export class NeedMoreBytes extends Error {
  constructor(readonly at: number) {
    super(`the walk needs the bytes at ${at}`);
    this.name = 'NeedMoreBytes';
  }
}

class Walker {
  private pos = 0;
  pixelData: Part10Structure['pixelData'] = null;
  pixelDataValueOffset: number | null = null;
  /** The file's length: the buffer's, or more when the buffer holds only its first bytes. */
  private readonly size: number;

  constructor(
    private readonly buf: Buffer,
    private readonly visit?: (e: ElementInfo) => void,
    totalLength?: number,
  ) {
    this.size = totalLength ?? buf.length;
  }

  /** The buffer, checked to hold the n bytes at `at` (past its end but within the file: NeedMoreBytes). */
  private bytes(at: number, n: number): Buffer {
    if (at + n > this.buf.length) throw new NeedMoreBytes(at + n);
    return this.buf;
  }

  private report(s: Syntax, tag: number, vr: string, offset: number, depth: number): void {
    if (!this.visit) return;
    const lengthBytes =
      this.pos - offset === 8 && !s.implicit && vr !== 'item' && tag >>> 16 !== 0xfffe ? 2 : 4;
    const lengthOffset = this.pos - lengthBytes;
    const length = lengthBytes === 2 ? this.u16(s, lengthOffset) : this.u32(s, lengthOffset);
    this.visit({
      tag,
      vr,
      offset,
      lengthOffset,
      lengthBytes,
      length,
      valueOffset: this.pos,
      depth,
      bigEndian: s.bigEndian,
    });
  }

  private fail(message: string, at = this.pos): never {
    throw new StructureError(message, at);
  }

  private need(n: number, end: number, what: string): void {
    if (this.pos + n > end) {
      this.fail(
        end === this.size
          ? `file ends inside ${what} (truncated)`
          : `${what} runs past the end of its item or sequence`,
      );
    }
  }

  private u16(s: Syntax, at: number): number {
    const b = this.bytes(at, 2);
    return s.bigEndian ? b.readUInt16BE(at) : b.readUInt16LE(at);
  }

  private u32(s: Syntax, at: number): number {
    const b = this.bytes(at, 4);
    return s.bigEndian ? b.readUInt32BE(at) : b.readUInt32LE(at);
  }

  private tag(s: Syntax): number {
    return ((this.u16(s, this.pos) << 16) | this.u16(s, this.pos + 2)) >>> 0;
  }

  /** The file meta information (always explicit VR little endian); returns its Transfer Syntax UID. */
  meta(): { transferSyntaxUid: string; dataSetOffset: number } {
    const s: Syntax = { implicit: false, bigEndian: false };
    this.pos = 132;
    let ts: string | null = null;
    let elements = 0;
    let metaEnd: number | null = null;
    while (this.pos + 4 <= this.size && this.bytes(this.pos, 2).readUInt16LE(this.pos) === 0x0002) {
      const start = this.pos;
      const tag = this.tag(s);
      const { vr, length } = this.header(s, this.size, tag);
      this.report(s, tag, vr, start, -1);
      if (length === UNDEFINED) this.fail(`file meta element ${tagName(tag)} has an undefined length`, start);
      this.need(length, this.size, `the value of file meta element ${tagName(tag)} (${vr})`);
      if (tag === 0x00020000 && elements === 0 && length === 4) {
        // File Meta Information Group Length: where the data set starts for dcmjs (and DCMTK)
        metaEnd = this.pos + 4 + this.u32(s, this.pos);
      }
      if (metaEnd !== null && this.pos + length > metaEnd) {
        this.fail(
          `file meta element ${tagName(tag)} runs past the group length (${metaEnd - 144} bytes)`,
          start,
        );
      }
      if (tag === 0x00020010) {
        ts = this.bytes(this.pos, length)
          .toString('latin1', this.pos, this.pos + length)
          .replace(/[\0 ]+$/, '')
          .trim();
      }
      this.pos += length;
      elements++;
    }
    if (elements === 0) this.fail('no file meta information (group 0002) after DICM');
    // Elements and group length must agree: a reader that trusts either would find another data set.
    if (metaEnd !== null && this.pos !== metaEnd)
      this.fail(`the file meta information ends at byte ${this.pos}, its group length says ${metaEnd}`, 132);
    if (!ts) this.fail('the file meta information has no Transfer Syntax UID', 132);
    if (!isUid(ts)) this.fail(`Transfer Syntax UID "${ts.slice(0, 70)}" is not a UID`, 132);
    return { transferSyntaxUid: ts, dataSetOffset: this.pos };
  }

  /** Reads one element header at pos (tag already known), leaves pos at its value. */
  private header(s: Syntax, end: number, tag: number): { vr: string; length: number } {
    const group = tag >>> 16;
    if (s.implicit || group === 0xfffe) {
      this.need(8, end, `the header of element ${tagName(tag)}`);
      const length = this.u32(s, this.pos + 4);
      this.pos += 8;
      return { vr: s.implicit && isSequenceTag(tag) ? 'SQ' : 'implicit', length };
    }
    this.need(8, end, `the header of element ${tagName(tag)}`);
    const vr = this.bytes(this.pos + 4, 2).toString('latin1', this.pos + 4, this.pos + 6);
    if (LONG_VRS.has(vr)) {
      this.need(12, end, `the header of element ${tagName(tag)}`);
      const length = this.u32(s, this.pos + 8);
      this.pos += 12;
      return { vr, length };
    }
    if (!SHORT_VRS.has(vr)) {
      this.fail(`element ${tagName(tag)} has an invalid VR "${JSON.stringify(vr).slice(1, -1)}"`);
    }
    const length = this.u16(s, this.pos + 6);
    this.pos += 8;
    return { vr, length };
  }

  /**
   * The elements of a data set or item until `end` (a defined length) or, with `end` null, until an Item
   * Delimitation Item (consumed) that must come before `limit`.
   */
  dataSet(s: Syntax, end: number | null, limit: number, depth: number): void {
    const bound = end ?? limit;
    for (;;) {
      if (end !== null && this.pos === end) return;
      const start = this.pos;
      this.need(4, bound, end === null ? 'an item without its Item Delimitation Item' : 'an element tag');
      const tag = this.tag(s);
      if (tag >>> 16 === 0xfffe) {
        this.need(8, bound, 'a delimiter');
        const length = this.u32(s, this.pos + 4);
        if (tag === 0xfffee00d && end === null) {
          if (length !== 0) this.fail(`Item Delimitation Item with length ${length}`);
          this.pos += 8;
          return;
        }
        this.fail(`unexpected ${tagName(tag)} inside ${depth === 0 ? 'the data set' : 'an item'}`);
      }
      if (depth === 0 && (tag >>> 16 === 0x0000 || tag >>> 16 === 0x0002)) {
        this.fail(`group ${hex4(tag >>> 16)} element ${tagName(tag)} inside the data set`);
      }
      const { vr, length } = this.header(s, bound, tag);
      this.report(s, tag, vr, start, depth);
      const keyVrs = depth === 0 && !s.implicit ? KEY_VRS.get(tag) : undefined;
      if (keyVrs && vr !== 'UN' && !keyVrs.includes(vr)) {
        this.fail(
          `element ${tagName(tag)} has VR ${vr} where the standard says ${keyVrs.join(' or ')}`,
          start,
        );
      }
      if (length === UNDEFINED) {
        if (tag === PIXEL_DATA_TAG && depth === 0 && (vr === 'OB' || vr === 'OW' || s.implicit)) {
          this.pixelDataValueOffset = this.pos;
          this.fragments(s, bound);
        } else if (vr === 'SQ' || vr === 'implicit') {
          this.sequence(s, null, bound, depth + 1);
        } else if (vr === 'UN') {
          // PS3.5 6.2.2: UN with undefined length is a sequence encoded in implicit VR little endian
          this.sequence({ implicit: true, bigEndian: false }, null, bound, depth + 1);
        } else {
          this.fail(`element ${tagName(tag)} (${vr}) has an undefined length`, start);
        }
        continue;
      }
      if (this.pos + length > bound) {
        this.fail(
          `element ${tagName(tag)} declares ${length} bytes, past the end of its ` +
            (bound === this.size ? 'file' : 'item or sequence') +
            ` (${bound - this.pos} left)`,
          start,
        );
      }
      if (vr === 'SQ') {
        this.sequence(s, this.pos + length, bound, depth + 1);
      } else {
        if (tag === PIXEL_DATA_TAG && depth === 0) {
          this.pixelData = { encapsulated: false, bytes: length };
          this.pixelDataValueOffset = this.pos;
        }
        this.pos += length;
      }
    }
  }

  /** The items of a sequence, until `end` or (undefined length) its Sequence Delimitation Item. */
  private sequence(s: Syntax, end: number | null, limit: number, depth: number): void {
    if (depth > MAX_SEQUENCE_DEPTH) this.fail(`sequences nested deeper than ${MAX_SEQUENCE_DEPTH} levels`);
    const bound = end ?? limit;
    for (;;) {
      if (end !== null && this.pos === end) return;
      this.need(8, bound, end === null ? 'a sequence without its Sequence Delimitation Item' : 'an item');
      const tag = this.tag(s);
      const length = this.u32(s, this.pos + 4);
      if (tag === 0xfffee0dd && end === null) {
        if (length !== 0) this.fail(`Sequence Delimitation Item with length ${length}`);
        this.pos += 8;
        return;
      }
      if (tag !== 0xfffee000) this.fail(`${tagName(tag)} where a sequence item was expected`);
      this.pos += 8;
      this.report(s, tag, 'item', this.pos - 8, depth);
      if (length === UNDEFINED) {
        this.dataSet(s, null, bound, depth);
      } else {
        if (this.pos + length > bound) this.fail(`item of ${length} bytes runs past its sequence`);
        this.dataSet(s, this.pos + length, bound, depth);
      }
    }
  }

  /** Encapsulated Pixel Data (PS3.5 A.4): items of defined length, then a Sequence Delimitation Item. */
  private fragments(s: Syntax, bound: number): void {
    let count = 0;
    for (;;) {
      this.need(8, bound, 'encapsulated Pixel Data without its Sequence Delimitation Item');
      const tag = this.tag(s);
      const length = this.u32(s, this.pos + 4);
      if (tag === 0xfffee0dd) {
        if (length !== 0) this.fail(`Sequence Delimitation Item with length ${length}`);
        this.pos += 8;
        // the first item is the Basic Offset Table
        this.pixelData = { encapsulated: true, fragments: Math.max(0, count - 1) };
        return;
      }
      if (tag !== 0xfffee000) this.fail(`${tagName(tag)} inside encapsulated Pixel Data`);
      if (length === UNDEFINED) this.fail('a Pixel Data fragment with undefined length');
      this.pos += 8;
      this.report(s, tag, 'item', this.pos - 8, 0);
      if (this.pos + length > bound) {
        this.fail(`Pixel Data fragment of ${length} bytes runs past the end of the file`, this.pos - 8);
      }
      this.pos += length;
      count++;
    }
  }

  end(): void {
    if (this.pos !== this.size) this.fail(`${this.size - this.pos} bytes after the last element`);
  }
}

/**
 * Walks a whole Part 10 buffer (preamble and "DICM" already checked by the caller). Throws a
 * StructureError naming the defect and its offset; returns the transfer syntax and the Pixel Data layout.
 */
export function checkPart10Structure(
  buf: Buffer,
  visit?: (e: ElementInfo) => void,
  /**
   * The file's length when `buf` holds only its first bytes: the walk skips values without reading them (the
   * Pixel Data of a native image, usually the last element, is never read), and throws NeedMoreBytes if it
   * must read a header past `buf`.
   */
  totalLength?: number,
): Part10Structure {
  const size = totalLength ?? buf.length;
  const w = new Walker(buf, visit, size);
  const { transferSyntaxUid, dataSetOffset } = w.meta();
  if (transferSyntaxUid === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) {
    return { transferSyntaxUid, dataSetOffset, pixelData: null, pixelDataValueOffset: null, deflated: true };
  }
  const syntax: Syntax = {
    implicit: transferSyntaxUid === IMPLICIT_VR_LITTLE_ENDIAN,
    bigEndian: transferSyntaxUid === EXPLICIT_VR_BIG_ENDIAN,
  };
  w.dataSet(syntax, size, size, 0);
  w.end();
  return {
    transferSyntaxUid,
    dataSetOffset,
    pixelData: w.pixelData,
    pixelDataValueOffset: w.pixelDataValueOffset,
    deflated: false,
  };
}

/** Every element, item and fragment header of a well-formed Part 10 buffer, in file order (for test tools). */
export function listElements(buf: Buffer): ElementInfo[] {
  const out: ElementInfo[] = [];
  checkPart10Structure(buf, (e) => out.push(e));
  return out;
}
