import { InputError } from '@lumbar/core';
import { checkPreamble, parseError, pixelDataProblem, readPart10 } from './read';
import { checkPart10Structure, NeedMoreBytes, type ElementInfo, type Part10Structure } from './structure';
import { isUid } from './uid';
import type { Dataset } from './write';

/**
 * What the receiver files an instance by: its four UIDs, the patient and study attributes of its row, and
 * whether its Pixel Data is whole. Text values are the first value, without padding; null when absent or
 * empty.
 */
export interface IndexFields {
  sopClassUid: string | null;
  sopInstanceUid: string | null;
  studyInstanceUid: string | null;
  seriesInstanceUid: string | null;
  patientId: string | null;
  patientName: string | null;
  accessionNumber: string | null;
  studyDate: string | null;
  studyDescription: string | null;
  modality: string | null;
  seriesNumber: string | null;
  seriesDescription: string | null;
  /** pixelDataProblem(): why the Pixel Data cannot be whole, or null. */
  pixelDataProblem: string | null;
}

type TextKey = Exclude<keyof IndexFields, 'pixelDataProblem'>;

/**
 * The top-level attributes read, with the VR the standard gives each (another VR: the full read decides) and
 * their dcmjs keyword (the same field of a dcmjs data set).
 */
const TEXT_TAGS = new Map<number, { key: TextKey; vr: string; keyword: string }>([
  [0x00080016, { key: 'sopClassUid', vr: 'UI', keyword: 'SOPClassUID' }],
  [0x00080018, { key: 'sopInstanceUid', vr: 'UI', keyword: 'SOPInstanceUID' }],
  [0x0020000d, { key: 'studyInstanceUid', vr: 'UI', keyword: 'StudyInstanceUID' }],
  [0x0020000e, { key: 'seriesInstanceUid', vr: 'UI', keyword: 'SeriesInstanceUID' }],
  [0x00100020, { key: 'patientId', vr: 'LO', keyword: 'PatientID' }],
  [0x00100010, { key: 'patientName', vr: 'PN', keyword: 'PatientName' }],
  [0x00080050, { key: 'accessionNumber', vr: 'SH', keyword: 'AccessionNumber' }],
  [0x00080020, { key: 'studyDate', vr: 'DA', keyword: 'StudyDate' }],
  [0x00081030, { key: 'studyDescription', vr: 'LO', keyword: 'StudyDescription' }],
  [0x00080060, { key: 'modality', vr: 'CS', keyword: 'Modality' }],
  [0x00200011, { key: 'seriesNumber', vr: 'IS', keyword: 'SeriesNumber' }],
  [0x0008103e, { key: 'seriesDescription', vr: 'LO', keyword: 'SeriesDescription' }],
]);

/** IndexFields from a value per text field (absent: null) and the Pixel Data verdict. */
function fieldsFrom(value: (t: { key: TextKey; keyword: string }) => string | null | undefined, ds: Dataset) {
  const fields = { pixelDataProblem: pixelDataProblem(ds) } as IndexFields;
  for (const t of TEXT_TAGS.values()) fields[t.key] = value(t) ?? null;
  return fields;
}
type ImageKey = 'rows' | 'columns' | 'bitsAllocated' | 'samplesPerPixel' | 'numberOfFrames';
const IMAGE_TAGS = new Map<number, { key: ImageKey; vr: string }>([
  [0x00280010, { key: 'rows', vr: 'US' }],
  [0x00280011, { key: 'columns', vr: 'US' }],
  [0x00280100, { key: 'bitsAllocated', vr: 'US' }],
  [0x00280002, { key: 'samplesPerPixel', vr: 'US' }],
  [0x00280008, { key: 'numberOfFrames', vr: 'IS' }],
]);

/** Thrown inside the walk when a value is one the lean read does not interpret the way dcmjs does. */
class NeedsFullRead extends Error {}

/**
 * Whether a text value reads the same in every character set: printable ASCII only (no escape sequence, no
 * byte of another character set, which dcmjs decodes with the Specific Character Set), and NUL only as a UID's
 * padding (dcmjs keeps a NUL in other text as it is).
 */
function plainAscii(buf: Buffer, from: number, to: number, vr: string): boolean {
  for (let i = from; i < to; i++) {
    const b = buf[i];
    if (b >= 0x7f || (b < 0x20 && !(b === 0x00 && vr === 'UI'))) return false;
  }
  return true;
}

/**
 * A text value as dcmjs gives it, first value only (index-fields.test.ts holds each rule to dcmjs): a
 * backslash splits values; a UID loses its NUL or space padding; a person name loses one trailing space (the
 * padding) and keeps its alphabetic group; a date keeps every character; other text (CS, LO, SH, IS) loses
 * leading and trailing spaces.
 */
function firstText(raw: string, vr: string): string | null {
  let v: string;
  if (vr === 'UI')
    v = raw
      .split('\\')[0]
      .replace(/[\0 ]+$/, '')
      .replace(/^ +/, '');
  else if (vr === 'PN') v = raw.replace(/ $/, '').split('\\')[0].split('=')[0];
  else if (vr === 'DA') v = raw.split('\\')[0];
  else v = raw.split('\\')[0].replace(/^ +| +$/g, '');
  return v === '' ? null : v;
}

/** An IS value as dcmjs gives it (a number), or NeedsFullRead for one that is not an integer. */
function integerString(v: string): number {
  const n = Number(v);
  if (!/^[+-]?[0-9]+$/.test(v) || !Number.isSafeInteger(n)) throw new NeedsFullRead('IS');
  return n;
}

/**
 * The lean read: the structure walk of checkPart10Structure, keeping the few top-level values the index
 * needs, without building a dcmjs data set. Throws NeedsFullRead where dcmjs would read a value differently
 * (a deflated data set, a non-ASCII text value, an attribute with another VR than the standard's, a repeated
 * attribute), so that readIndexFields() can hand the file to readPart10.
 */
export function leanIndexFields(buf: Buffer, name = 'buffer', totalLength?: number): IndexFields {
  const size = totalLength ?? buf.length;
  checkPreamble(buf, name);
  const text: Partial<Record<TextKey, string | null>> = {};
  const image: Partial<Record<ImageKey, number | null>> = {};
  const seen = new Set<number>();
  const visit = (e: ElementInfo) => {
    if (e.depth !== 0) return;
    const t = TEXT_TAGS.get(e.tag);
    const im = t ? undefined : IMAGE_TAGS.get(e.tag);
    if (!t && !im) return;
    const expected = (t ?? im)!.vr;
    // implicit VR: dcmjs takes the dictionary's VR, which is the one above
    if (e.vr !== expected && e.vr !== 'implicit') throw new NeedsFullRead(`VR ${e.vr}`);
    if (seen.has(e.tag)) throw new NeedsFullRead('repeated');
    seen.add(e.tag);
    const from = e.valueOffset;
    const to = e.valueOffset + e.length;
    if (to > size) return; // the walk fails on it next
    if (to > buf.length) throw new NeedMoreBytes(to);
    if (expected === 'US') {
      if (e.length < 2) image[(im as { key: ImageKey }).key] = null;
      else image[im!.key] = e.bigEndian ? buf.readUInt16BE(from) : buf.readUInt16LE(from);
      return;
    }
    if (!plainAscii(buf, from, to, expected)) throw new NeedsFullRead('characters');
    const v = firstText(buf.toString('latin1', from, to), expected);
    if (t) text[t.key] = v !== null && expected === 'IS' ? String(integerString(v)) : v;
    else image.numberOfFrames = v === null ? null : integerString(v);
  };
  let structure: Part10Structure;
  try {
    structure = checkPart10Structure(buf, visit, size);
  } catch (err) {
    if (err instanceof NeedsFullRead || err instanceof NeedMoreBytes) throw err;
    throw parseError(name, err);
  }
  if (structure.deflated) throw new NeedsFullRead('deflated');
  const ds: Dataset = {
    _pixelData: structure.pixelData,
    NumberOfFrames: image.numberOfFrames === null ? '' : image.numberOfFrames,
    Rows: image.rows ?? undefined,
    Columns: image.columns ?? undefined,
    BitsAllocated: image.bitsAllocated ?? undefined,
    SamplesPerPixel: image.samplesPerPixel === null ? NaN : image.samplesPerPixel,
  };
  return fieldsFrom((t) => text[t.key], ds);
}

const textOf = (v: unknown): string | null => {
  if (v === undefined || v === null || v === '') return null;
  if (Array.isArray(v)) return textOf(v[0]);
  if (typeof v === 'object' && 'Alphabetic' in v) return textOf((v as { Alphabetic: unknown }).Alphabetic);
  return String(v);
};

/** The same fields from a data set read by readPart10 (headerOnly is enough). */
export function indexFieldsOf(ds: Dataset): IndexFields {
  return fieldsFrom((t) => textOf(ds[t.keyword]), ds);
}

/** How much of an instance the lean read tries first: the attributes before Pixel Data fit, in MR images. */
const FIRST_BYTES = 64 * 1024;

/** The first n bytes of the parts, as one buffer (the first part itself when it holds them). */
function firstBytes(parts: Buffer[], n: number): Buffer {
  if (parts[0].length >= n) return parts[0].subarray(0, n);
  const out = Buffer.allocUnsafe(n);
  let at = 0;
  for (const p of parts) {
    if (at >= n) break;
    at += p.copy(out, at, 0, Math.min(p.length, n - at));
  }
  return out;
}

/**
 * The receiver's read of an incoming instance: the lean read where it gives what dcmjs would (the common
 * case: a few microseconds per file instead of about a millisecond), readPart10 where it might not. Both
 * walk the whole structure first, so a damaged file is refused by either with the same InputError.
 * index-fields.test.ts holds them equal on the samples, the phantom and the malformed corpus.
 *
 * `source` may be the file as the chunks it arrived in: the lean read then copies only its first 64 KiB (more
 * if the walk needs them: encapsulated Pixel Data, elements after Pixel Data), never the whole instance.
 */
export function readIndexFields(source: Buffer | Buffer[], name = 'buffer'): IndexFields {
  const parts = (Array.isArray(source) ? source : [source]).filter((p) => p.length > 0);
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (parts.length === 0) return leanIndexFields(Buffer.alloc(0), name);
  let want = Math.min(total, FIRST_BYTES);
  for (;;) {
    try {
      return leanIndexFields(firstBytes(parts, want), name, total);
    } catch (err) {
      if (err instanceof NeedMoreBytes && want < total) {
        want = Math.min(total, Math.max(want * 4, err.at));
        continue;
      }
      if (!(err instanceof NeedsFullRead)) throw err;
      const whole = parts.length === 1 ? parts[0] : Buffer.concat(parts, total);
      return indexFieldsOf(readPart10(whole, name, { headerOnly: true }));
    }
  }
}

/**
 * What the receiver files an instance by, or an InputError saying why it refuses it (0xC000): a UID missing or
 * not a UID, then Pixel Data that cannot be whole (every SOP class it accepts is an image).
 */
export function indexUids(fields: IndexFields): {
  study: string;
  series: string;
  sop: string;
  sopClass: string;
} {
  const uid = (v: string | null, keyword: string): string => {
    if (!v) throw new InputError(`${keyword} is missing`);
    if (!isUid(v)) throw new InputError(`${keyword} "${v.slice(0, 70)}" is not a valid UID`);
    return v;
  };
  const uids = {
    study: uid(fields.studyInstanceUid, 'StudyInstanceUID'),
    series: uid(fields.seriesInstanceUid, 'SeriesInstanceUID'),
    sop: uid(fields.sopInstanceUid, 'SOPInstanceUID'),
    sopClass: uid(fields.sopClassUid, 'SOPClassUID'),
  };
  if (fields.pixelDataProblem) throw new InputError(fields.pixelDataProblem);
  return uids;
}

/** Whether the lean read would hand this file to readPart10 (for the tests). */
export function needsFullRead(buf: Buffer): boolean {
  try {
    leanIndexFields(buf);
    return false;
  } catch (err) {
    return err instanceof NeedsFullRead;
  }
}
