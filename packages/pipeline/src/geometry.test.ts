import { centredPlane } from '@lumbar/dicom';
import { assignAxialSlice, canonicalOrientation, reorient, type LabelledDisc } from './geometry';

describe('assignAxialSlice', () => {
  const disc = (level: LabelledDisc['level'], z: number): LabelledDisc => ({
    level,
    centroid: [0, 20, z],
    halfHeight: 5,
    areaMm2: 300,
  });
  const discs = [disc('L5-S1', -60), disc('L4-L5', -25), disc('L3-L4', 10)];
  const axialAt = (z: number) => centredPlane([0, 40, z], [1, 0, 0], [0, 1, 0], [200, 200], 256, 256);
  it('finds the nearest disc and skips slices between discs', () => {
    expect(assignAxialSlice(axialAt(-24), 4, discs)?.level).toBe('L4-L5');
    expect(assignAxialSlice(axialAt(-58), 4, discs)?.level).toBe('L5-S1');
    expect(assignAxialSlice(axialAt(-42), 4, discs)).toBeNull();
  });
});

describe('canonicalOrientation', () => {
  it('leaves a standard axial (row +x, col +y) and sagittal (row +y, col -z) alone', () => {
    expect(canonicalOrientation({ row: [1, 0, 0], col: [0, 1, 0] }, 'axial')).toEqual({
      transpose: false,
      flipH: false,
      flipV: false,
    });
    expect(canonicalOrientation({ row: [0, 1, 0], col: [0, 0, -1] }, 'sagittal')).toEqual({
      transpose: false,
      flipH: false,
      flipV: false,
    });
  });
  it('flips an axial image stored with the patient left on the image left', () => {
    expect(canonicalOrientation({ row: [-1, 0, 0], col: [0, 1, 0] }, 'axial')).toEqual({
      transpose: false,
      flipH: true,
      flipV: false,
    });
  });
  it('transposes an image whose rows run left-right in the patient', () => {
    const o = canonicalOrientation({ row: [0, 1, 0], col: [1, 0, 0] }, 'axial');
    expect(o.transpose).toBe(true);
    // a 2x3 image: pixel value = its patient x (column index of the canonical image) * 10 + y
    const px = new Float32Array([0, 10, 20, 1, 11, 21].map(Number));
    // stored: rows along +x? build stored[r][c] with r = x, c = y
    const stored = new Float32Array(6);
    for (let x = 0; x < 3; x++) for (let y = 0; y < 2; y++) stored[x * 2 + y] = x * 10 + y;
    const out = reorient(stored, 3, 2, o);
    expect([out.rows, out.cols]).toEqual([2, 3]);
    expect([...out.pixels]).toEqual([...px]);
  });
});
