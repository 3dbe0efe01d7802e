import { InputError } from '@lumbar/core';
import { pixelDataProblem, readPart10 } from './read';
import { checkPart10Structure, NeedMoreBytes, type ElementInfo, type Part10Structure } from './structure';
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

/** The top-level attributes read, with the VR the standard gives each (another VR: the full read decides). */
const TEXT_TAGS = new Map<number, { key: TextKey; vr: string }>([
  [0x00080016, { key: 'sopClassUid', vr: 'UI' }],
  [0x00080018, { key: 'sopInstanceUid', vr: 'UI' }],
  [0x0020000d, { key: 'studyInstanceUid', vr: 'UI' }],
  [0x0020000e, { key: 'seriesInstanceUid', vr: 'UI' }],
  [0x00100020, { key: 'patientId', vr: 'LO' }],
  [0x00100010, { key: 'patientName', vr: 'PN' }],
  [0x00080050, { key: 'accessionNumber', vr: 'SH' }],
  [0x00080020, { key: 'studyDate', vr: 'DA' }],
  [0x00081030, { key: 'studyDescription', vr: 'LO' }],
  [0x00080060, { key: 'modality', vr: 'CS' }],
  [0x00200011, { key: 'seriesNumber', vr: 'IS' }],
  [0x0008103e, { key: 'seriesDescription', vr: 'LO' }],
]);
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
  if (buf.length < 132 || buf.toString('latin1', 128, 132) !== 'DICM') {
    throw new InputError(`${name}: not a DICOM Part 10 file (no DICM preamble)`, { file: name });
  }
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
    const reason = err instanceof Error ? err.message : String(err);
    throw new InputError(`${name}: cannot parse DICOM: ${reason}`, { file: name });
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
  return {
    sopClassUid: text.sopClassUid ?? null,
    sopInstanceUid: text.sopInstanceUid ?? null,
    studyInstanceUid: text.studyInstanceUid ?? null,
    seriesInstanceUid: text.seriesInstanceUid ?? null,
    patientId: text.patientId ?? null,
    patientName: text.patientName ?? null,
    accessionNumber: text.accessionNumber ?? null,
    studyDate: text.studyDate ?? null,
    studyDescription: text.studyDescription ?? null,
    modality: text.modality ?? null,
    seriesNumber: text.seriesNumber ?? null,
    seriesDescription: text.seriesDescription ?? null,
    pixelDataProblem: pixelDataProblem(ds),
  };
}

const textOf = (v: unknown): string | null => {
  if (v === undefined || v === null || v === '') return null;
  if (Array.isArray(v)) return textOf(v[0]);
  if (typeof v === 'object' && 'Alphabetic' in v) return textOf((v as { Alphabetic: unknown }).Alphabetic);
  return String(v);
};

/** The same fields from a data set read by readPart10 (headerOnly is enough). */
export function indexFieldsOf(ds: Dataset): IndexFields {
  return {
    sopClassUid: textOf(ds.SOPClassUID),
    sopInstanceUid: textOf(ds.SOPInstanceUID),
    studyInstanceUid: textOf(ds.StudyInstanceUID),
    seriesInstanceUid: textOf(ds.SeriesInstanceUID),
    patientId: textOf(ds.PatientID),
    patientName: textOf(ds.PatientName),
    accessionNumber: textOf(ds.AccessionNumber),
    studyDate: textOf(ds.StudyDate),
    studyDescription: textOf(ds.StudyDescription),
    modality: textOf(ds.Modality),
    seriesNumber: textOf(ds.SeriesNumber),
    seriesDescription: textOf(ds.SeriesDescription),
    pixelDataProblem: pixelDataProblem(ds),
  };
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

const UID = /^[0-9]+(\.[0-9]+)*$/;

/** The four UIDs an instance is filed by; an InputError when one is missing or is not a UID. */
export function indexUids(fields: IndexFields): {
  study: string;
  series: string;
  sop: string;
  sopClass: string;
} {
  const uid = (v: string | null, keyword: string): string => {
    if (!v) throw new InputError(`${keyword} is missing`);
    if (!UID.test(v) || v.length > 64)
      throw new InputError(`${keyword} "${v.slice(0, 70)}" is not a valid UID`);
    return v;
  };
  return {
    study: uid(fields.studyInstanceUid, 'StudyInstanceUID'),
    series: uid(fields.seriesInstanceUid, 'SeriesInstanceUID'),
    sop: uid(fields.sopInstanceUid, 'SOPInstanceUID'),
    sopClass: uid(fields.sopClassUid, 'SOPClassUID'),
  };
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
