import * as dcmjs from 'dcmjs';
import { InputError } from '@lumbar/core';
import type { Dataset } from './write';
import type { ImagePlane, Vec3 } from './geometry';

const { DicomMessage, DicomMetaDictionary } = dcmjs.data;
// dcmjs reports every VR oddity of real files on the console ("Invalid vr type", short values); the
// parse result is what we check, so its validation logger stays quiet. (Its loglevel copy is its own.)
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent');
dcmjs.log.setLevel('error');

const PIXEL_DATA = '7FE00010';

export interface ReadOptions {
  /** Stop before Pixel Data: for indexing many files; `_hasPixelData` tells whether it was there. */
  headerOnly?: boolean;
}

/** Parses a DICOM Part 10 buffer into a naturalized dataset; a clear error when it is not DICOM. */
export function readPart10(buf: Buffer, name = 'buffer', opts: ReadOptions = {}): Dataset {
  if (buf.length < 132 || buf.toString('latin1', 128, 132) !== 'DICM') {
    throw new InputError(`${name}: not a DICOM Part 10 file (no DICM preamble)`, { file: name });
  }
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const options = { untilTag: opts.headerOnly ? PIXEL_DATA : null, includeUntilTagValue: false };
  const fail = (err: unknown): never => {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InputError(`${name}: cannot parse DICOM: ${reason}`, { file: name });
  };
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
    return ds;
  } catch (err) {
    return fail(err);
  }
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
