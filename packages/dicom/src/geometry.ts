export type Vec3 = readonly [number, number, number];

export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const scale = (a: Vec3, k: number): Vec3 => [a[0] * k, a[1] * k, a[2] * k];
export const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
export const norm = (a: Vec3): number => Math.sqrt(dot(a, a));
export const unit = (a: Vec3): Vec3 => scale(a, 1 / norm(a));

/**
 * The geometry of one image in DICOM patient coordinates (LPS: +x patient left, +y posterior,
 * +z head). `row` is the direction of increasing column index, `col` of increasing row index
 * (ImageOrientationPatient = row, col); `spacing` is PixelSpacing = [between rows, between columns].
 */
export interface ImagePlane {
  position: Vec3; // ImagePositionPatient: centre of the first transmitted pixel
  row: Vec3;
  col: Vec3;
  spacing: readonly [number, number];
  rows: number;
  columns: number;
}

export function planeNormal(p: Pick<ImagePlane, 'row' | 'col'>): Vec3 {
  return unit(cross(p.row, p.col));
}

/** Patient coordinates of the centre of pixel (r, c). */
export function pixelToPatient(p: ImagePlane, r: number, c: number): Vec3 {
  return add(p.position, add(scale(p.row, c * p.spacing[1]), scale(p.col, r * p.spacing[0])));
}

/** Continuous pixel indices (r, c) of a patient point projected onto the plane, and its distance to it. */
export function patientToPixel(p: ImagePlane, x: Vec3): { r: number; c: number; distance: number } {
  const d = sub(x, p.position);
  return {
    r: dot(d, p.col) / p.spacing[0],
    c: dot(d, p.row) / p.spacing[1],
    distance: dot(d, planeNormal(p)),
  };
}

/** A plane centred on `centre` with the given axes, field of view (mm) and matrix. */
export function centredPlane(
  centre: Vec3,
  row: Vec3,
  col: Vec3,
  fov: readonly [number, number],
  rows: number,
  columns: number,
): ImagePlane {
  const spacing: [number, number] = [fov[0] / rows, fov[1] / columns];
  const position = sub(
    centre,
    add(scale(row, ((columns - 1) / 2) * spacing[1]), scale(col, ((rows - 1) / 2) * spacing[0])),
  );
  return { position, row, col, spacing, rows, columns };
}
