import { InputError } from '@lumbar/core';
import { TransferSyntax, transferSyntax } from './transfer-syntax';
import type { Dataset } from './write';

/** The most pixels (rows x columns x frames) one object may decode to: 1 GiB of float32. */
export const MAX_PIXELS = 2 ** 28;

/** The Image Pixel module attributes that decoding depends on, validated. */
export interface PixelModule {
  rows: number;
  columns: number;
  frames: number;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  signed: boolean;
  monochrome1: boolean;
  syntax: TransferSyntax;
}

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);
const int = (v: unknown): number => {
  const x = Number(first(v));
  return Number.isInteger(x) ? x : NaN;
};
const str = (v: unknown): string => String(first(v) ?? '').trim();

/** The transfer syntax UID from the file meta information that readPart10 keeps in `_meta`. */
export function transferSyntaxUid(ds: Dataset): string {
  const meta = ds._meta as Dataset | undefined;
  return str(meta?.TransferSyntaxUID);
}

/** Reads and checks the pixel module; an InputError naming the file and the reason when it cannot be decoded. */
export function pixelModule(ds: Dataset, name: string): PixelModule {
  const fail = (reason: string): never => {
    throw new InputError(`${name}: ${reason}`, { file: name });
  };
  if (ds.PixelData === undefined || ds.PixelData === null) {
    fail(
      ds.FloatPixelData || ds.DoubleFloatPixelData ? 'float pixel data is not supported' : 'no pixel data',
    );
  }
  const uid = transferSyntaxUid(ds);
  const syntax = transferSyntax(uid) ?? fail(`unsupported transfer syntax ${uid || '(none)'}`);
  const samples = int(ds.SamplesPerPixel ?? 1);
  const photometric = str(ds.PhotometricInterpretation).toUpperCase();
  if (samples !== 1 || (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2')) {
    fail(`colour images are not supported (SamplesPerPixel ${samples}, ${photometric || 'no photometric'})`);
  }
  const rows = int(ds.Rows);
  const columns = int(ds.Columns);
  if (!(rows > 0 && columns > 0 && rows <= 16384 && columns <= 16384))
    fail(`bad image size ${rows}x${columns}`);
  const bitsAllocated = int(ds.BitsAllocated);
  if (bitsAllocated !== 8 && bitsAllocated !== 16) fail(`BitsAllocated ${bitsAllocated} is not supported`);
  const bitsStored = int(ds.BitsStored ?? bitsAllocated);
  if (!(bitsStored >= 1 && bitsStored <= bitsAllocated)) fail(`bad BitsStored ${bitsStored}`);
  if (syntax.codec === 'jpeg-baseline' && bitsStored > 8) {
    fail(`${syntax.name} with ${bitsStored} bits stored (12-bit lossy JPEG) is not supported`);
  }
  const frames = ds.NumberOfFrames === undefined || ds.NumberOfFrames === '' ? 1 : int(ds.NumberOfFrames);
  if (!(frames >= 1 && frames <= 100000)) fail(`bad NumberOfFrames ${String(ds.NumberOfFrames)}`);
  // decoded as 32-bit floats: a header (or a few KB of run-length or JPEG-LS stream) must not ask for GBs
  if (rows * columns * frames > MAX_PIXELS) {
    fail(`image too large: ${rows}x${columns}x${frames} frames is over ${MAX_PIXELS} pixels`);
  }
  return {
    rows,
    columns,
    frames,
    bitsAllocated: bitsAllocated as 8 | 16,
    bitsStored,
    signed: int(ds.PixelRepresentation ?? 0) === 1,
    monochrome1: photometric === 'MONOCHROME1',
    syntax,
  };
}
