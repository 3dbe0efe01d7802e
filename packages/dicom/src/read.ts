import * as dcmjs from 'dcmjs';
import { InputError } from '@lumbar/core';
import type { Dataset } from './write';
import type { ImagePlane, Vec3 } from './geometry';

const { DicomMessage, DicomMetaDictionary } = dcmjs.data;

/** Parses a DICOM Part 10 buffer into a naturalized dataset; a clear error when it is not DICOM. */
export function readPart10(buf: Buffer, name = 'buffer'): Dataset {
  if (buf.length < 132 || buf.toString('latin1', 128, 132) !== 'DICM') {
    throw new InputError(`${name}: not a DICOM Part 10 file (no DICM preamble)`);
  }
  try {
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const msg = DicomMessage.readFile(ab);
    const ds = DicomMetaDictionary.naturalizeDataset(msg.dict) as Dataset;
    ds._meta = DicomMetaDictionary.naturalizeDataset(msg.meta);
    return ds;
  } catch (err) {
    throw new InputError(`${name}: cannot parse DICOM: ${err instanceof Error ? err.message : String(err)}`);
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
