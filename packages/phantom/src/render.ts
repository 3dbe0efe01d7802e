import type { ImagePlane } from '@lumbar/dicom';
import { planeNormal } from '@lumbar/dicom';
import { Anatomy, Realism, Sample, classify } from './anatomy';
import { Rng } from './rng';
import { Contrast, T, nucleusSignal, tissueSignal } from './tissues';

export interface RenderOptions {
  contrast: Contrast;
  /** Slice thickness (mm): the slice is sampled at several depths and averaged (partial volume). */
  thickness: number;
  depthSamples: number;
  /** Signal of pure CSF-like tissue maps to about this stored value. */
  intensityScale: number;
  /** Noise standard deviation relative to intensityScale (Rician noise on the magnitude). */
  noise: number;
  /** Bias field coefficients: linear in row, linear in column, quadratic radial. */
  bias: readonly [number, number, number];
  /**
   * Realistic style: the posterior surface coil's sensitivity, floor + (1 - floor) * exp(-(d / length)^2) at d mm
   * in front of the skin of the back (y = backY). Absent in the classic style.
   */
  coil?: { backY: number; length: number; floor: number };
}

export interface RenderedSlice {
  pixels: Uint16Array;
  /** Disc label (1..6) of each pixel at the slice centre, 0 elsewhere. */
  mask: Uint8Array;
  /** Per disc label (index 1..6): pixels of herniated disc material at the slice centre (part of `mask`). */
  herniationPixels: number[];
}

/** Renders one slice of the phantom: tissue classification, contrast, texture, blur, bias, noise. */
export function renderSlice(an: Anatomy, plane: ImagePlane, opt: RenderOptions, rng: Rng): RenderedSlice {
  const { rows, columns } = plane;
  const n = rows * columns;
  const signal = tissueSignal(opt.contrast);
  const nucleus = an.discs.map((d) => nucleusSignal(opt.contrast, 120 - 75 * d.degeneration));
  const herniationSig = signal[T.Herniation];
  const raw = new Float32Array(n);
  const mask = new Uint8Array(n);
  const herniationPixels = new Array<number>(an.discs.length + 1).fill(0);
  const normal = planeNormal(plane);
  const [sr, sc] = plane.spacing;
  const [rx, ry, rz] = plane.row;
  const [cx, cy, cz] = plane.col;
  const [px, py, pz] = plane.position;
  const ph = an.texture;
  const out: Sample = { tissue: 0, disc: 0, frac: 0 };
  const re = an.real;
  const coil = opt.coil;
  const depths: number[] = [];
  for (let s = 0; s < opt.depthSamples; s++) {
    depths.push(opt.depthSamples === 1 ? 0 : opt.thickness * ((s + 0.5) / opt.depthSamples - 0.5) * 0.9);
  }
  // the mask is the tissue at the slice centre: the sample nearest depth 0 (use odd sample counts)
  let centreSample = 0;
  for (let s = 1; s < depths.length; s++)
    if (Math.abs(depths[s]) < Math.abs(depths[centreSample])) centreSample = s;
  const nd = depths.length;
  const stepX = rx * sc;
  const stepY = ry * sc;
  const stepZ = rz * sc;
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < nd; s++) {
      // walk along the row incrementally: position of pixel (r, 0) at depth s
      let x = px + cx * r * sr + normal[0] * depths[s];
      let y = py + cy * r * sr + normal[1] * depths[s];
      let z = pz + cz * r * sr + normal[2] * depths[s];
      const o = r * columns;
      const isCentre = s === centreSample;
      for (let c = 0; c < columns; c++, x += stepX, y += stepY, z += stepZ) {
        classify(an, x, y, z, out);
        const t = out.tissue;
        let v: number;
        if (re) {
          v = realisticSignal(re, t, out, x, y, z, signal, nucleus, an);
          if (coil) {
            const d = (coil.backY - y) / coil.length;
            v *= d <= 0 ? 1 : coil.floor + (1 - coil.floor) * Math.exp(-d * d);
          }
        } else {
          if (t === T.Nucleus) v = nucleus[out.disc - 1];
          else if (t === T.Herniation) v = herniationSig * (0.85 + 0.3 * an.discs[out.disc - 1].degeneration);
          else v = signal[t];
          if (t === T.Marrow || t === T.Abdomen || t === T.Fat || t === T.Muscle)
            v *= texture(t, x, y, z, ph);
        }
        raw[o + c] += v / nd;
        if (isCentre) {
          mask[o + c] = out.disc;
          if (t === T.Herniation) herniationPixels[out.disc]++;
        }
      }
    }
  }
  const blurred = blur121(raw, rows, columns);
  const pixels = new Uint16Array(n);
  const sigma = opt.noise * opt.intensityScale;
  const [b1, b2, b3] = opt.bias;
  for (let r = 0; r < rows; r++) {
    const v = (2 * r) / (rows - 1) - 1;
    for (let c = 0; c < columns; c++) {
      const u = (2 * c) / (columns - 1) - 1;
      const i = r * columns + c;
      const m = blurred[i] * opt.intensityScale * (1 + b1 * v + b2 * u + b3 * (u * u + v * v));
      const re = m + sigma * rng.noise();
      const im = sigma * rng.noise();
      const val = Math.round(Math.sqrt(re * re + im * im));
      pixels[i] = val > 65535 ? 65535 : val;
    }
  }
  return { pixels, mask, herniationPixels };
}

/**
 * Realistic style: the signal of a tissue with its texture. Nucleus fading into the annulus; mottled marrow; fat with
 * thin dark septa; muscle with fat streaks along its fibres (cranio-caudal); bowel with gas, fluid and mesenteric fat.
 */
function realisticSignal(
  re: Realism,
  t: number,
  out: Sample,
  x: number,
  y: number,
  z: number,
  signal: Float64Array,
  nucleus: number[],
  an: Anatomy,
): number {
  switch (t) {
    case T.Nucleus: {
      const f = out.frac ?? 1;
      return signal[T.Annulus] + (nucleus[out.disc - 1] - signal[T.Annulus]) * f;
    }
    case T.Herniation:
      return signal[T.Herniation] * (0.85 + 0.3 * an.discs[out.disc - 1].degeneration);
    case T.Marrow:
      return signal[t] * (0.7 + 0.6 * re.noise.fbm(x / 3.2, y / 3.2, z / 3.2));
    case T.Fat:
    case T.EpiduralFat:
      return (
        signal[t] *
        (0.78 + 0.32 * re.noise.at(x / 12, y / 12, z / 12)) *
        (1 - 0.6 * re.fibres.ridge(x / 16, y / 16, z / 16, 0.02))
      );
    case T.Muscle: {
      const streak = re.fibres.ridge(x / 6 + 31.7, y / 6, z / 28, 0.03) * re.muscleFat;
      const base = signal[t] * (0.85 + 0.3 * re.noise.at(x / 5 + 11, y / 5, z / 12));
      return base + (signal[T.Fat] - base) * 0.8 * streak;
    }
    case T.Kidney:
      return signal[t] * (0.8 + 0.4 * re.noise.at(x / 6, y / 6, z / 6));
    case T.Abdomen: {
      // bowel: wall and content of mixed signal, a few gas bubbles (dark), mesenteric fat between the loops
      const n = re.noise.fbm(x / 6 + 53.1, y / 6, z / 6);
      const bowel = n < 0.22 ? signal[t] * 0.15 : signal[t] * (0.55 + 0.9 * n);
      const m = re.noise.at(x / 10 + 91.3, y / 10, z / 10);
      const w = m < 0.58 ? 0 : m > 0.74 ? 1 : (m - 0.58) / 0.16;
      return bowel + (signal[T.Fat] * 0.85 - bowel) * w;
    }
    default:
      return signal[t];
  }
}

/** A sine table (1024 entries per period) for the textures, about 5x cheaper than Math.sin. */
const SIN = new Float64Array(1024);
for (let i = 0; i < 1024; i++) SIN[i] = Math.sin((2 * Math.PI * i) / 1024);
const K = 1024 / (2 * Math.PI);
const sin = (v: number): number => SIN[(v * K) & 1023];

/** Smooth multiplicative texture of a tissue (marrow trabeculae, bowel, fat and muscle fibres). */
function texture(t: number, x: number, y: number, z: number, ph: Float64Array): number {
  if (t === T.Marrow)
    return 1 + 0.07 * sin(0.21 * x + ph[0]) * sin(0.17 * y + ph[1]) + 0.05 * sin(0.23 * z + ph[2]);
  if (t === T.Abdomen) {
    const a = sin(0.11 * x + 0.05 * z + ph[3]) * sin(0.13 * y + ph[4]);
    const b = sin(0.29 * x + 0.21 * y + ph[7]) * sin(0.19 * z + ph[8]);
    return 0.85 + 0.22 * a + 0.12 * b;
  }
  return 1 + 0.05 * sin(0.3 * x + 0.2 * z + ph[6]);
}

/** Separable [1 2 1]/4 blur with edge replication: a little of the scanner's point spread. */
function blur121(src: Float32Array, rows: number, cols: number): Float32Array {
  const tmp = new Float32Array(src.length);
  const dst = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      const l = src[o + (c > 0 ? c - 1 : 0)];
      const rr = src[o + (c < cols - 1 ? c + 1 : c)];
      tmp[o + c] = (l + 2 * src[o + c] + rr) / 4;
    }
  }
  for (let r = 0; r < rows; r++) {
    const up = (r > 0 ? r - 1 : 0) * cols;
    const dn = (r < rows - 1 ? r + 1 : r) * cols;
    const o = r * cols;
    for (let c = 0; c < cols; c++) dst[o + c] = (tmp[up + c] + 2 * tmp[o + c] + tmp[dn + c]) / 4;
  }
  return dst;
}
