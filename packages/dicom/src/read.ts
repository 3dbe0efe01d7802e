import * as dcmjs from 'dcmjs';
import { InputError } from '@lumbar/core';
import type { Dataset } from './write';
import type { ImagePlane, Vec3 } from './geometry';
import { checkPart10Structure, type Part10Structure } from './structure';

const { DicomMessage, DicomMetaDictionary } = dcmjs.data;
// dcmjs reports every VR oddity of real files on the console ("Invalid vr type", short values); the
// parse result is what we check, so its validation logger stays quiet. (Its loglevel copy is its own.)
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent');
dcmjs.log.setLevel('error');

const PIXEL_DATA = '7FE00010';

export interface ReadOptions {
  /**
   * Stop before Pixel Data: for indexing many files; `_hasPixelData` tells whether it was there, and
   * `pixelDataProblem()` whether it is complete (the whole file is still walked, see structure.ts).
   */
  headerOnly?: boolean;
}

/** An InputError unless `buf` starts with the 128-byte preamble and "DICM" (PS3.10 7.1). */
export function checkPreamble(buf: Buffer, name: string): void {
  if (buf.length < 132 || buf.toString('latin1', 128, 132) !== 'DICM') {
    throw new InputError(`${name}: not a DICOM Part 10 file (no DICM preamble)`, { file: name });
  }
}

/** The InputError for a file that cannot be parsed, naming it and the reason. */
export function parseError(name: string, err: unknown): InputError {
  const reason = err instanceof Error ? err.message : String(err);
  return new InputError(`${name}: cannot parse DICOM: ${reason}`, { file: name });
}

/** Parses a DICOM Part 10 buffer into a naturalized dataset; a clear error when it is not DICOM. */
export function readPart10(buf: Buffer, name = 'buffer', opts: ReadOptions = {}): Dataset {
  checkPreamble(buf, name);
  const fail = (err: unknown): never => {
    throw parseError(name, err);
  };
  let structure: Part10Structure | undefined;
  try {
    // Every length and sequence is checked before dcmjs sees the file (structure.ts says why).
    structure = checkPart10Structure(buf);
  } catch (err) {
    fail(err);
  }
  // dcmjs wants an ArrayBuffer of its own (a copy). A header-only read copies only the bytes before Pixel
  // Data's value: dcmjs stops at its tag anyway, and the receiver no longer copies (and collects) a whole
  // instance per C-STORE for a few kilobytes of header. The walk above already checked the rest.
  const end =
    opts.headerOnly && structure?.pixelDataValueOffset != null ? structure.pixelDataValueOffset : buf.length;
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + end);
  const options = { untilTag: opts.headerOnly ? PIXEL_DATA : null, includeUntilTagValue: false };
  let msg;
  try {
    msg = DicomMessage.readFile(ab, { ...options, ignoreErrors: false });
  } catch (err) {
    // Only an unknown character set is worth a lenient second try; any other error is a damaged file.
    if (!/character set/i.test(err instanceof Error ? err.message : '')) fail(err);
    try {
      msg = DicomMessage.readFile(ab, { ...options, ignoreErrors: true });
    } catch (again) {
      fail(again);
    }
  }
  try {
    const hasPixelData = PIXEL_DATA in msg.dict;
    if (opts.headerOnly) delete msg.dict[PIXEL_DATA];
    const ds = DicomMetaDictionary.naturalizeDataset(msg.dict) as Dataset;
    ds._meta = DicomMetaDictionary.naturalizeDataset(msg.meta);
    if (opts.headerOnly) ds._hasPixelData = hasPixelData;
    if (structure && !structure.deflated) ds._pixelData = structure.pixelData;
    return ds;
  } catch (err) {
    return fail(err);
  }
}

const int = (v: unknown): number => {
  const x = Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(x) ? x : NaN;
};

/**
 * Why the Pixel Data of a data set read by readPart10 cannot be whole, or null: missing, encapsulated
 * without fragments (or fewer than frames), or native and shorter than Rows x Columns x SamplesPerPixel x
 * NumberOfFrames x BitsAllocated / 8. Works on a header-only read (the receiver's check of an image).
 */
export function pixelDataProblem(ds: Dataset): string | null {
  const pd = ds._pixelData as Part10Structure['pixelData'] | undefined;
  if (pd === undefined)
    return ds._hasPixelData === true || ds.PixelData !== undefined ? null : 'no Pixel Data';
  if (pd === null) return 'no Pixel Data';
  const frames = ds.NumberOfFrames === undefined || ds.NumberOfFrames === '' ? 1 : int(ds.NumberOfFrames);
  if (!(frames >= 1)) return `bad NumberOfFrames ${String(ds.NumberOfFrames).slice(0, 20)}`;
  if (pd.encapsulated) {
    return pd.fragments >= frames
      ? null
      : `encapsulated Pixel Data has ${pd.fragments} fragments for ${frames} frames`;
  }
  const rows = int(ds.Rows);
  const columns = int(ds.Columns);
  const bits = int(ds.BitsAllocated);
  const samples = ds.SamplesPerPixel === undefined ? 1 : int(ds.SamplesPerPixel);
  if (!(rows > 0 && columns > 0 && bits > 0 && samples > 0)) {
    return 'no usable Rows, Columns, BitsAllocated or SamplesPerPixel';
  }
  const needed = Math.ceil((rows * columns * samples * frames * bits) / 8);
  return pd.bytes >= needed
    ? null
    : `Pixel Data has ${pd.bytes} bytes, ${rows}x${columns}x${samples}x${frames} at ${bits} bits needs ${needed}`;
}

const nums = (v: unknown): number[] => (Array.isArray(v) ? v : [v]).map((x) => Number(x));

/** The image plane of a single-frame image (ImagePositionPatient, ImageOrientationPatient, PixelSpacing). */
export function imagePlaneOf(ds: Dataset): ImagePlane {
  const ipp = nums(ds.ImagePositionPatient);
  const iop = nums(ds.ImageOrientationPatient);
  const ps = nums(ds.PixelSpacing);
  if (
    ipp.length !== 3 ||
    iop.length !== 6 ||
    ps.length !== 2 ||
    [...ipp, ...iop, ...ps].some((x) => !Number.isFinite(x))
  ) {
    throw new InputError('image has no usable ImagePositionPatient / ImageOrientationPatient / PixelSpacing');
  }
  return {
    position: ipp as unknown as Vec3,
    row: iop.slice(0, 3) as unknown as Vec3,
    col: iop.slice(3, 6) as unknown as Vec3,
    spacing: [ps[0], ps[1]],
    rows: Number(ds.Rows),
    columns: Number(ds.Columns),
  };
}
