import { toUint8, type GrayImage } from '@lumbar/imaging';
import { canonicalOrientation, reorient, type Reorientation } from './geometry';
import type { SliceInput } from './types';

/** A slice in the display orientation the models were trained on, 8-bit, with the way back. */
export interface CanonicalSlice {
  input: SliceInput;
  image: GrayImage;
  orientation: Reorientation;
}

export function canonicalSlice(s: SliceInput, view: 'axial' | 'sagittal'): CanonicalSlice {
  const o = canonicalOrientation(s.plane, view);
  const u8 = toUint8(s.pixels);
  const r = reorient(u8, s.plane.rows, s.plane.columns, o);
  return { input: s, image: { width: r.cols, height: r.rows, data: r.pixels }, orientation: o };
}

/** The stored (row, column) of a canonical (row, column): undo the flips, then the transpose. */
export function toStored(c: CanonicalSlice, row: number, col: number): [number, number] {
  const { orientation: o, image } = c;
  const r = o.flipV ? image.height - 1 - row : row;
  const k = o.flipH ? image.width - 1 - col : col;
  return o.transpose ? [k, r] : [r, k];
}

/** A canonical mask back in the stored orientation of its slice (for the DICOM SEG). */
export function maskToStored(c: CanonicalSlice, mask: GrayImage): GrayImage {
  const { rows, columns } = c.input.plane;
  const out = new Uint8Array(rows * columns);
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      const v = mask.data[y * mask.width + x];
      if (!v) continue;
      const [r, k] = toStored(c, y, x);
      out[r * columns + k] = v;
    }
  }
  return { width: columns, height: rows, data: out };
}
