import type { DiscLevel } from '@lumbar/core';
import { ImagePlane, Vec3, dot, planeNormal, sub } from '@lumbar/dicom';

/** A disc found on a sagittal slice, in patient coordinates. */
export interface SagittalDisc {
  centroid: Vec3;
  /** Extent of the disc along the axial normal direction is unknown on one slice: half its height (mm). */
  halfHeight: number;
  areaMm2: number;
}

export interface LabelledDisc extends SagittalDisc {
  level: DiscLevel;
}

/**
 * Assigns an axial slice to the disc level whose centre lies nearest its plane, or null when the
 * nearest disc is farther than its half height plus half the slice thickness (plus a tolerance):
 * such a slice lies between discs and is skipped.
 */
export function assignAxialSlice(
  plane: ImagePlane,
  thickness: number,
  discs: LabelledDisc[],
  toleranceMm = 2,
): { level: DiscLevel; distanceMm: number } | null {
  const n = planeNormal(plane);
  let best: LabelledDisc | null = null;
  let bestDist = Infinity;
  for (const d of discs) {
    const dist = Math.abs(dot(sub(d.centroid, plane.position), n));
    if (dist < bestDist) {
      bestDist = dist;
      best = d;
    }
  }
  if (!best || bestDist > best.halfHeight + thickness / 2 + toleranceMm) return null;
  return { level: best.level, distanceMm: bestDist };
}

/**
 * How to turn an image into the canonical display the models were trained on, from its geometry:
 * axial: patient left to the right of the image (+x along columns), posterior down (+y along rows);
 * sagittal: posterior to the right (+y along columns), feet down (-z along rows).
 * `transpose` first, then the flips.
 */
export interface Reorientation {
  transpose: boolean;
  flipH: boolean;
  flipV: boolean;
}

export function canonicalOrientation(
  plane: Pick<ImagePlane, 'row' | 'col'>,
  view: 'axial' | 'sagittal',
): Reorientation {
  const [want1, want2]: [Vec3, Vec3] =
    view === 'axial'
      ? [
          [1, 0, 0],
          [0, 1, 0],
        ]
      : [
          [0, 1, 0],
          [0, 0, -1],
        ];
  // after an optional transpose, columns should run along want1 and rows along want2
  const straight = Math.abs(dot(plane.row, want1)) >= Math.abs(dot(plane.col, want1));
  const colDir = straight ? plane.row : plane.col;
  const rowDir = straight ? plane.col : plane.row;
  return { transpose: !straight, flipH: dot(colDir, want1) < 0, flipV: dot(rowDir, want2) < 0 };
}

/** Applies a reorientation to a row-major image; returns the new pixels and size. */
export function reorient<T extends Uint8Array | Float32Array>(
  px: T,
  rows: number,
  cols: number,
  o: Reorientation,
): { pixels: T; rows: number; cols: number } {
  const outRows = o.transpose ? cols : rows;
  const outCols = o.transpose ? rows : cols;
  const out = new (px.constructor as { new (n: number): T })(px.length);
  for (let r = 0; r < outRows; r++) {
    for (let c = 0; c < outCols; c++) {
      const rr = o.flipV ? outRows - 1 - r : r;
      const cc = o.flipH ? outCols - 1 - c : c;
      const src = o.transpose ? cc * cols + rr : rr * cols + cc;
      out[r * outCols + c] = px[src];
    }
  }
  return { pixels: out, rows: outRows, cols: outCols };
}
