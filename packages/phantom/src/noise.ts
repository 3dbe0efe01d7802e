import { Rng } from './rng';

/**
 * Smooth 3D value noise for the realistic style's textures (marrow, fat septa, muscle fibres, bowel): a random
 * value on an integer lattice, interpolated with a smoothstep. Deterministic from its Rng; no allocation per call.
 */
export class ValueNoise {
  private readonly perm = new Uint8Array(512);
  private readonly vals = new Float64Array(256);
  /** A random rotation, so that the lattice's axes do not show as blocky, axis-aligned features. */
  private readonly rot = new Float64Array(9);

  constructor(rng: Rng) {
    const p = new Uint8Array(256);
    for (let i = 0; i < 256; i++) p[i] = i;
    for (let i = 255; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    for (let i = 0; i < 512; i++) this.perm[i] = p[i & 255];
    for (let i = 0; i < 256; i++) this.vals[i] = rng.next();
    // rotation from a random unit quaternion
    let q0 = rng.gauss();
    let q1 = rng.gauss();
    let q2 = rng.gauss();
    let q3 = rng.gauss();
    const n = Math.hypot(q0, q1, q2, q3) || 1;
    q0 /= n;
    q1 /= n;
    q2 /= n;
    q3 /= n;
    this.rot.set([
      1 - 2 * (q2 * q2 + q3 * q3),
      2 * (q1 * q2 - q0 * q3),
      2 * (q1 * q3 + q0 * q2),
      2 * (q1 * q2 + q0 * q3),
      1 - 2 * (q1 * q1 + q3 * q3),
      2 * (q2 * q3 - q0 * q1),
      2 * (q1 * q3 - q0 * q2),
      2 * (q2 * q3 + q0 * q1),
      1 - 2 * (q1 * q1 + q2 * q2),
    ]);
  }

  /** Noise in [0, 1] at a point in lattice units (features about one unit across). */
  at(px: number, py: number, pz: number): number {
    const m = this.rot;
    const x = m[0] * px + m[1] * py + m[2] * pz;
    const y = m[3] * px + m[4] * py + m[5] * pz;
    const z = m[6] * px + m[7] * py + m[8] * pz;
    const xf = Math.floor(x);
    const yf = Math.floor(y);
    const zf = Math.floor(z);
    let fx = x - xf;
    let fy = y - yf;
    let fz = z - zf;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    fz = fz * fz * (3 - 2 * fz);
    const X = xf & 255;
    const Y = yf & 255;
    const Z = zf & 255;
    const p = this.perm;
    const v = this.vals;
    const a = p[X] + Y;
    const b = p[X + 1] + Y;
    const aa = p[a] + Z;
    const ab = p[a + 1] + Z;
    const ba = p[b] + Z;
    const bb = p[b + 1] + Z;
    const x00 = v[p[aa]] + (v[p[ba]] - v[p[aa]]) * fx;
    const x10 = v[p[ab]] + (v[p[bb]] - v[p[ab]]) * fx;
    const x01 = v[p[aa + 1]] + (v[p[ba + 1]] - v[p[aa + 1]]) * fx;
    const x11 = v[p[ab + 1]] + (v[p[bb + 1]] - v[p[ab + 1]]) * fx;
    const y0 = x00 + (x10 - x00) * fy;
    const y1 = x01 + (x11 - x01) * fy;
    return y0 + (y1 - y0) * fz;
  }

  /** Two octaves: coarse shape plus half-size detail, in [0, 1]. */
  fbm(x: number, y: number, z: number): number {
    return (2 * this.at(x, y, z) + this.at(2.03 * x + 17.1, 2.03 * y + 5.3, 2.03 * z + 11.7)) / 3;
  }

  /** Thin ridges (1 on the line where the noise crosses 0.5, 0 away from it): septa, fascia, fibres. */
  ridge(x: number, y: number, z: number, width: number): number {
    const d = Math.abs(this.at(x, y, z) - 0.5);
    return d >= width ? 0 : 1 - d / width;
  }
}
