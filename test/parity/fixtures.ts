import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import type { GrayImage } from '@lumbar/imaging';
import { cliMain } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { repoRoot, sharedPath } from '../helpers/shared';

/** Inputs of the parity test: written as raw bytes for Python, kept in memory for TypeScript. */
export type Dtype = 'uint8' | 'uint16' | 'int16' | 'float64';
export type Pixels = Uint8Array | Uint16Array | Int16Array | Float64Array;
export interface RawEntry {
  file: string;
  dtype: Dtype;
  shape: number[];
}

export type Case =
  | { id: string; kind: 'window'; source: string; input: RawEntry; values: Pixels }
  | {
      id: string;
      kind: 'image';
      source: string;
      image: RawEntry;
      mask: RawEntry;
      img: GrayImage;
      disc: GrayImage;
    }
  | { id: string; kind: 'resize'; input: RawEntry; img: GrayImage; out: [number, number] }
  | { id: string; kind: 'clahe'; input: RawEntry; img: GrayImage }
  | { id: string; kind: 'unletterbox'; input: RawEntry; img: GrayImage; rows: number; cols: number }
  | {
      id: string;
      kind: 'probability';
      input: RawEntry;
      prob: Float64Array;
      size: number;
      rows: number;
      cols: number;
    };

/** A small seeded generator (mulberry32), so the synthetic fixtures are the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DTYPE_OF = (a: Pixels): Dtype =>
  a instanceof Uint8Array
    ? 'uint8'
    : a instanceof Uint16Array
      ? 'uint16'
      : a instanceof Int16Array
        ? 'int16'
        : 'float64';

export class FixtureWriter {
  readonly cases: Case[] = [];
  constructor(readonly dir: string) {
    mkdirSync(path.join(dir, 'in'), { recursive: true });
  }

  raw(id: string, name: string, a: Pixels, shape: number[]): RawEntry {
    const file = `in/${id}.${name}.bin`;
    writeFileSync(path.join(this.dir, file), Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    return { file, dtype: DTYPE_OF(a), shape };
  }

  add(c: Case): void {
    if (this.cases.some((o) => o.id === c.id)) throw new Error(`duplicate fixture id ${c.id}`);
    this.cases.push(c);
  }

  /** manifest.json without the in-memory arrays. */
  writeManifest(): void {
    const strip = (c: Case): Record<string, unknown> => {
      const { id, kind } = c;
      if (c.kind === 'window') return { id, kind, input: c.input };
      if (c.kind === 'image') return { id, kind, image: c.image, mask: c.mask };
      if (c.kind === 'resize') return { id, kind, input: c.input, out: c.out };
      if (c.kind === 'clahe') return { id, kind, input: c.input };
      if (c.kind === 'probability')
        return { id, kind, input: c.input, size: c.size, rows: c.rows, cols: c.cols };
      return { id, kind, input: c.input, rows: c.rows, cols: c.cols };
    };
    const cases = this.cases.map(strip);
    writeFileSync(path.join(this.dir, 'manifest.json'), JSON.stringify({ cases }));
  }
}

export function readGrayPng(file: string): GrayImage {
  const png = PNG.sync.read(readFileSync(file));
  const data = new Uint8Array(png.width * png.height);
  for (let i = 0; i < data.length; i++) data[i] = png.data[i * 4]; // pngjs decodes to RGBA
  return { width: png.width, height: png.height, data };
}

/** An image case: 8-bit image + binary disc mask (1 where `labels` is one of `discValues`). */
export function addImageCase(
  w: FixtureWriter,
  id: string,
  source: string,
  img: GrayImage,
  disc: GrayImage,
): void {
  const shape = [img.height, img.width];
  w.add({
    id,
    kind: 'image',
    source,
    img,
    disc,
    image: w.raw(id, 'image', img.data, shape),
    mask: w.raw(id, 'mask', disc.data, shape),
  });
}

export function binarise(labels: GrayImage, keep: (v: number) => boolean): GrayImage {
  return { ...labels, data: labels.data.map((v) => (keep(v) ? 1 : 0)) };
}

/** Every `step`-th image of a folder of PNG images with same-named masks. */
export function pngPairs(
  imagesDir: string,
  masksDir: string,
  step: number,
): { name: string; img: GrayImage; labels: GrayImage }[] {
  const names = readdirSync(imagesDir)
    .filter((n) => n.endsWith('.png'))
    .sort();
  return names
    .filter((_, i) => i % step === 0)
    .map((name) => ({
      name,
      img: readGrayPng(path.join(imagesDir, name)),
      labels: readGrayPng(path.join(masksDir, name)),
    }));
}

/** Sagittal planes of a NIfTI-1 int16 volume (x slowest in the file order: planes at fixed x). */
export function niftiPlanes(
  file: string,
  xs: number[],
): { x: number; rows: number; cols: number; values: Int16Array }[] {
  const b = gunzipSync(readFileSync(file));
  const dim = [0, 1, 2, 3].map((k) => b.readInt16LE(40 + 2 * k));
  const datatype = b.readInt16LE(70);
  if (b.readInt32LE(0) !== 348 || datatype !== 4)
    throw new Error(`${file}: not a little-endian int16 NIfTI-1`);
  const [nx, ny, nz] = [dim[1], dim[2], dim[3]];
  const off = Math.round(b.readFloatLE(108));
  return xs.map((x) => {
    const values = new Int16Array(ny * nz);
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        values[(nz - 1 - z) * ny + y] = b.readInt16LE(off + 2 * (x + nx * (y + ny * z)));
    return { x, rows: nz, cols: ny, values };
  });
}

/** A random binary mask with a few rectangles and blobs, some touching the border, some tied in area. */
export function randomMask(r: () => number, width: number, height: number): GrayImage {
  const data = new Uint8Array(width * height);
  const ri = (n: number): number => Math.floor(r() * n);
  const rect = (x: number, y: number, w: number, h: number): void => {
    for (let yy = Math.max(0, y); yy < Math.min(height, y + h); yy++)
      for (let xx = Math.max(0, x); xx < Math.min(width, x + w); xx++) data[yy * width + xx] = 1;
  };
  const n = 1 + ri(7);
  const tw = 1 + ri(Math.max(1, width / 3));
  const th = 1 + ri(Math.max(1, height / 6));
  for (let k = 0; k < n; k++) {
    const w = r() < 0.4 ? tw : 1 + ri(Math.max(1, width / 2)); // repeated size: ties in area
    const h = r() < 0.4 ? th : 1 + ri(Math.max(1, height / 4));
    rect(ri(width + 4) - 2, ri(height + 4) - 2, w, h);
  }
  for (let k = ri(30); k > 0; k--) data[ri(width * height)] = 1; // specks, mostly filtered out
  if (r() < 0.3) for (let k = 0; k < (width * height) / 3; k++) data[ri(width * height)] = 1; // noise field
  return { width, height, data };
}

export function randomImage(r: () => number, width: number, height: number): GrayImage {
  const data = new Uint8Array(width * height);
  const kind = Math.floor(r() * 4);
  const a = r() * 3;
  const base = Math.floor(r() * 200);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (kind === 0) data[i] = Math.floor(r() * 256);
      else if (kind === 1) data[i] = base + Math.floor(r() * 30);
      else if (kind === 2) data[i] = Math.min(255, Math.floor((x + y) * a + r() * 12));
      else data[i] = r() < 0.1 ? 255 : 0;
    }
  return { width, height, data };
}

export interface FixtureSources {
  /** SPIDER t2_space: images/ and masks/ (2 = disc). */
  spiderDir: string;
  /** A phantom training layout (lumbar phantom --dataset): samples.csv, images/, masks/ (> 0 = disc). */
  phantomDir: string;
  /** A NIfTI-1 int16 volume (real 16-bit MR values). */
  niftiFile: string;
}

/** Every fixture of the parity test; returns a count per group. */
export function buildFixtures(w: FixtureWriter, src: FixtureSources): Record<string, number> {
  const counts: Record<string, number> = {};
  const count = (k: string): void => void (counts[k] = (counts[k] ?? 0) + 1);
  const r = rng(20240607);
  const ri = (n: number): number => Math.floor(r() * n);

  // Real sagittal images and masks.
  for (const p of pngPairs(path.join(src.spiderDir, 'images'), path.join(src.spiderDir, 'masks'), 12)) {
    addImageCase(
      w,
      `spider-${p.name.replace(/\.png$/, '')}`,
      'spider',
      p.img,
      binarise(p.labels, (v) => v === 2),
    );
    count('image:spider');
  }
  // Phantom images (axial and sagittal).
  for (const p of pngPairs(path.join(src.phantomDir, 'images'), path.join(src.phantomDir, 'masks'), 1)) {
    addImageCase(
      w,
      `phantom-${p.name.replace(/\.png$/, '')}`,
      'phantom',
      p.img,
      binarise(p.labels, (v) => v > 0),
    );
    count('image:phantom');
  }
  // Synthetic masks: ties in area, specks, boxes at the border, noise fields, tiny images.
  for (let k = 0; k < 60; k++) {
    const width = 1 + ri(k < 10 ? 8 : 160);
    const height = 1 + ri(k < 10 ? 8 : 160);
    addImageCase(
      w,
      `synthetic-${k}`,
      'synthetic',
      randomImage(r, width, height),
      randomMask(r, width, height),
    );
    count('image:synthetic');
  }

  // Ties that only OpenCV's 2x2-block numbering breaks the Python way (plain raster order would not).
  for (const [name, m] of Object.entries(orderingMasks())) {
    addImageCase(w, `synthetic-order-${name}`, 'synthetic', randomImage(r, m.width, m.height), m);
    count('image:synthetic');
  }

  // 16-bit windowing: real MR planes, then synthetic arrays.
  for (const p of niftiPlanes(src.niftiFile, [4, 12, 19, 26, 33])) {
    const id = `window-nifti-x${p.x}`;
    w.add({
      id,
      kind: 'window',
      source: 'nifti',
      values: p.values,
      input: w.raw(id, 'in', p.values, [p.rows, p.cols]),
    });
    count('window:real');
  }
  const synthetic: Pixels[] = [];
  for (let k = 0; k < 6; k++) {
    const n = 1 + ri(k === 0 ? 10 : 40000);
    const u = new Uint16Array(n);
    const top = 1 + ri(65535);
    for (let i = 0; i < n; i++) u[i] = r() < 0.002 ? 65535 : ri(top);
    synthetic.push(u);
  }
  for (let k = 0; k < 3; k++)
    synthetic.push(Int16Array.from({ length: 5000 + ri(5000) }, () => ri(4000) - 2000));
  synthetic.push(new Uint16Array(100).fill(700)); // flat: all zeros
  synthetic.push(Float64Array.from({ length: 3000 }, () => ri(800) / 2 - 100)); // halves: round half up
  synthetic.forEach((values, k) => {
    const id = `window-synthetic-${k}`;
    w.add({
      id,
      kind: 'window',
      source: 'synthetic',
      values,
      input: w.raw(id, 'in', values, [values.length]),
    });
    count('window:synthetic');
  });

  // Resizing between random sizes (down and up, 1-pixel edges included).
  for (let k = 0; k < 40; k++) {
    const img = randomImage(r, 1 + ri(k < 5 ? 4 : 300), 1 + ri(k < 5 ? 4 : 300));
    const out: [number, number] = k % 4 === 0 ? [64, 64] : [1 + ri(300), 1 + ri(300)];
    const id = `resize-${k}`;
    w.add({ id, kind: 'resize', img, out, input: w.raw(id, 'in', img.data, [img.height, img.width]) });
    count('resize');
  }
  // CLAHE on 64x64 images of every kind, and a few other sizes (OpenCV pads those).
  for (let k = 0; k < 240; k++) {
    const [width, height] =
      k < 200 ? [64, 64] : k < 220 ? [16 * (1 + ri(8)), 16 * (1 + ri(8))] : [1 + ri(150), 1 + ri(150)];
    const img = randomImage(r, width, height);
    if (k % 5 === 4) img.data.fill(ri(256)); // flat tiles
    const id = `clahe-${k}`;
    w.add({ id, kind: 'clahe', img, input: w.raw(id, 'in', img.data, [height, width]) });
    count('clahe');
  }
  // Un-letterboxing random 256x256 masks to random image sizes.
  for (let k = 0; k < 20; k++) {
    const img = randomMask(r, 256, 256);
    const rows = 1 + ri(600);
    const cols = 1 + ri(600);
    const id = `unletterbox-${k}`;
    w.add({ id, kind: 'unletterbox', img, rows, cols, input: w.raw(id, 'in', img.data, [256, 256]) });
    count('unletterbox');
  }
  // U-Net probabilities (float32 values, as ONNX Runtime gives them, some exactly 0.5) on letterboxes of 256, 320
  // and 384, back to random image sizes by bilinear resizing (model card output.upsample = bilinear-probability).
  for (let k = 0; k < 12; k++) {
    const size = [256, 320, 384][k % 3];
    const rows = 1 + ri(640);
    const cols = 1 + ri(640);
    const prob = new Float64Array(size * size);
    const cx = r() * size;
    const cy = r() * size;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const smooth = 0.5 + 0.5 * Math.sin((x - cx) / 9) * Math.cos((y - cy) / 7);
        prob[y * size + x] = Math.fround(r() < 0.02 ? 0.5 : r() < 0.5 ? smooth : r());
      }
    const id = `probability-${k}`;
    w.add({ id, kind: 'probability', prob, size, rows, cols, input: w.raw(id, 'in', prob, [size, size]) });
    count('probability');
  }
  w.writeManifest();
  return counts;
}

/**
 * axial: two components of equal area; A's first pixel (x 0, y 1) is after B's (x 50, y 0) in raster
 * order but in an earlier 2x2 block, so OpenCV (and Python) take A. sagittal: three components with
 * the same mean row; OpenCV's order keeps E and F (x 0..39), raster order would keep F and G.
 */
export function orderingMasks(): Record<'axial' | 'sagittal', GrayImage> {
  const make = (width: number, height: number, boxes: [number, number, number, number][]): GrayImage => {
    const data = new Uint8Array(width * height);
    for (const [x0, y0, x1, y1] of boxes)
      for (let y = y0; y <= y1; y++) data.fill(1, y * width + x0, y * width + x1 + 1);
    return { width, height, data };
  };
  return {
    axial: make(100, 60, [
      [0, 1, 9, 10],
      [50, 0, 59, 9],
    ]),
    sagittal: make(100, 60, [
      [0, 41, 9, 48],
      [30, 40, 39, 49],
      [60, 40, 69, 49],
    ]),
  };
}

/** An axial slice and its binary disc mask, for the parity tests of the axial crop checks (OOD, slice gate). */
export interface AxialCase {
  image: GrayImage;
  mask: GrayImage;
}

/** A real Mendeley axial slice with its project disc mask (annotations/mendeley-axial, 1 = disc). */
export function mendeleyAxialCase(name: string): AxialCase {
  const image = readGrayPng(sharedPath('data', 'mendeley-axial-unlabelled', `${name}.png`));
  const labels = readGrayPng(path.join(repoRoot, 'annotations', 'mendeley-axial', 'masks', `${name}.png`));
  return { image, mask: binarise(labels, (v) => v === 1) };
}

/** The first `count` axial slices of a one-study phantom training layout of `seed`, with their disc masks. */
export async function phantomAxialCases(
  dir: string,
  seed: string,
  count: number,
): Promise<Record<string, AxialCase>> {
  const dataset = path.join(dir, 'dataset');
  const gen = await runTool(
    process.execPath,
    [cliMain, 'phantom', '--dataset', dataset, '--studies', '1', '--seed', seed],
    { timeoutMs: 120_000 },
  );
  if (gen.code !== 0) throw new Error(`lumbar phantom exited ${gen.code}: ${gen.stderr}`);
  const axial = readdirSync(path.join(dataset, 'images'))
    .filter((f) => f.includes('_ax_'))
    .slice(0, count);
  return Object.fromEntries(
    axial.map((f) => [
      `phantom_${f.replace('.png', '')}`,
      {
        image: readGrayPng(path.join(dataset, 'images', f)),
        mask: binarise(readGrayPng(path.join(dataset, 'masks', f)), (v) => v > 0),
      },
    ]),
  );
}

/** DIR/in/<id>.image.bin and <id>.mask.bin (uint8, rows x cols) and DIR/manifest.json {cases: [{id, rows, cols}]}. */
export function writeAxialCases(dir: string, cases: Record<string, AxialCase>): void {
  mkdirSync(path.join(dir, 'in'), { recursive: true });
  const manifest = Object.entries(cases).map(([id, c]) => {
    writeFileSync(path.join(dir, 'in', `${id}.image.bin`), c.image.data);
    writeFileSync(path.join(dir, 'in', `${id}.mask.bin`), c.mask.data);
    return { id, rows: c.image.height, cols: c.image.width };
  });
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ cases: manifest }));
}
