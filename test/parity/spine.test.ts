/**
 * Acceptance: the discs of the spine and the sagittal grader's input and output are those of the Python
 * training code. On real SPIDER mid-sagittal slices segmented by the shipped sag-seg-unet (in Node), and on
 * synthetic masks that take every rejection branch:
 *  (a) spineDiscs (packages/imaging/src/spine.ts) finds the discs that training/grading_discs.py spine_discs finds
 *      on the same mask: count, order, labels, areas, boxes, centroids and axes (1e-9), rejections and reasons,
 *      places from the bottom (gaps);
 *  (b) gradingInput (packages/imaging/src/gradingInput.ts) gives training/grading.py grading_input's tensor
 *      exactly, with as many channels as training/grading.py CHANNELS: the same crop box, the same bytes before
 *      / 255 (resized crop, CLAHE, and with 3 channels the disc's own component), the same float32 values;
 *  (c) the grader (models/sag-grading) in ONNX Runtime for Node agrees with training.inference.Runner within 1e-5
 *      (on the channels its card asks for).
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { gradingInput, initImaging, spineDiscs, type GrayImage, type SpineDisc } from '@lumbar/imaging';
import { OnnxModel } from '@lumbar/inference';
import { segmentBatch } from '@lumbar/pipeline';
import { makeTmpDir, removeDir } from '../helpers/files';
import { runTool } from '../helpers/run';
import { repoRoot, sharedPath } from '../helpers/shared';
import { randomImage, readGrayPng, rng } from './fixtures';

const PYTHON = path.join(repoRoot, 'training', '.venv', 'bin', 'python');
const SEG = path.join(repoRoot, 'models', 'sag-seg-unet');
// LUMBAR_PARITY_GRADER: another grader folder of the same format (e.g. a 3-channel model before it ships)
const GRADER = process.env.LUMBAR_PARITY_GRADER ?? path.join(repoRoot, 'models', 'sag-grading');
// slices where spine_discs rejects something (off the spine, beside a larger disc, round), then ordinary ones
const SLICES = ['36_t2', '204_t2', '149_t2', '73_t2', '82_t2', '100_t2', '107_t2_SPACE', '18_t2', '250_t2'];

interface PyDisc {
  label: number;
  area: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  cx: number;
  cy: number;
  major: number;
  minor: number;
  tilt: number;
}
interface PyCase {
  discs: PyDisc[];
  boxes: number[][];
  rejected: Array<{ disc: PyDisc; reason: string }>;
  places: number[];
}

/** A mask drawn from filled ellipses: centre, semi-axes (along, across) and the angle from horizontal. */
function ellipses(width: number, height: number, shapes: Array<[number, number, number, number, number]>) {
  const data = new Uint8Array(width * height);
  for (const [cx, cy, a, b, deg] of shapes) {
    const t = (deg * Math.PI) / 180;
    const [c, s] = [Math.cos(t), Math.sin(t)];
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const u = (x - cx) * c + (y - cy) * s;
        const v = -(x - cx) * s + (y - cy) * c;
        if ((u / a) ** 2 + (v / b) ** 2 <= 1) data[y * width + x] = 1;
      }
  }
  return { width, height, data };
}

/** Synthetic masks: every rejection reason, a disc cut by the image border, and components over 8192 pixels. */
function syntheticMasks(): Record<string, GrayImage> {
  const chain = (x: (y: number) => number): Array<[number, number, number, number, number]> =>
    [40, 85, 130, 175, 220].map((y, i) => [x(y), y, 20 + i, 7, 8 - 3 * i]);
  return {
    // bowel loop (round), sacral remnant (steep), a flat fragment off the chain, one beside a disc
    rejections: ellipses(220, 300, [
      ...chain((y) => 110 + 0.1 * y),
      [170, 120, 12, 12, 0],
      [125, 268, 18, 6, 72],
      [30, 150, 16, 5, 0],
      [160, 85, 12, 5, 5],
    ]),
    // the crop boxes leave the image on the left and at the top
    border: ellipses(
      120,
      240,
      chain(() => 14),
    ),
    // a missed disc: the gap between the second and third from the bottom skips a place
    gap: ellipses(
      220,
      360,
      [40, 85, 130, 220, 265, 310].map((y) => [110, y, 22, 7, 0]),
    ),
    // a lone pair: no line is fitted below 3 components
    pair: ellipses(100, 100, [
      [50, 30, 18, 6, 0],
      [52, 70, 18, 6, 4],
    ]),
    // large components: numpy's pairwise sums over thousands of pixels
    large: ellipses(640, 480, [
      [320, 90, 160, 30, 3],
      [330, 240, 170, 32, -4],
      [340, 390, 150, 28, 10],
    ]),
  };
}

let dir: string;
let py: { channels: number; model_channels: number; classes: string[]; cases: Record<string, PyCase> };
const cases: Array<{ id: string; image: GrayImage; mask: GrayImage }> = [];
let grader: OnnxModel;

beforeAll(async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: run scripts/setup.sh`);
  if (!existsSync(path.join(GRADER, 'model.json')))
    throw new Error(`${GRADER} not found: the sagittal grader (python -m training grading-ship) is missing`);
  dir = makeTmpDir('spine-parity');
  mkdirSync(path.join(dir, 'in'));
  await initImaging();
  const seg = await OnnxModel.open(SEG, { intraOpThreads: 1 });
  grader = await OnnxModel.open(GRADER, { intraOpThreads: 1 });
  for (const s of SLICES) {
    const image = readGrayPng(sharedPath('data', 'spider', 'sagittal_t2', `${s}.png`));
    const [mask] = await segmentBatch(seg, [{ image }]);
    cases.push({ id: s, image, mask });
  }
  await seg.close();
  const r = rng(13);
  for (const [name, mask] of Object.entries(syntheticMasks()))
    cases.push({ id: `synthetic-${name}`, image: randomImage(r, mask.width, mask.height), mask });
  for (const c of cases) {
    writeFileSync(path.join(dir, 'in', `${c.id}.image.bin`), c.image.data);
    writeFileSync(path.join(dir, 'in', `${c.id}.mask.bin`), c.mask.data);
  }
  const manifest = cases.map((c) => ({ id: c.id, rows: c.image.height, cols: c.image.width }));
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ cases: manifest }));
  const run = await runTool(PYTHON, [path.join(__dirname, 'spine_parity.py'), dir, GRADER], {
    cwd: repoRoot,
    timeoutMs: 300_000,
  });
  if (run.code !== 0) throw new Error(`spine_parity.py exited ${run.code}:\n${run.stderr}${run.stdout}`);
  py = JSON.parse(readFileSync(path.join(dir, 'py', 'results.json'), 'utf8'));
}, 400_000);

afterAll(async () => {
  await grader?.close();
  removeDir(dir);
});

const f32 = (file: string): Float32Array => {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/**
 * Integers and centroids equal; axes and tilt within 1e-9 (returns the largest difference seen). The tilt may
 * differ in its last bits: V8's Math.atan2 (fdlibm) and glibc's atan2 can round differently by one ulp.
 */
function expectSameDisc(ours: SpineDisc, theirs: PyDisc, where: string): number {
  const ints = (d: PyDisc | SpineDisc) => [d.label, d.area, d.x0, d.y0, d.x1, d.y1];
  expect({ where, ints: ints(ours) }).toEqual({ where, ints: ints(theirs) });
  expect({ where, c: [ours.cx, ours.cy] }).toEqual({ where, c: [theirs.cx, theirs.cy] });
  let max = 0;
  for (const k of ['major', 'minor', 'tilt'] as const) {
    const d = Math.abs(ours[k] - theirs[k]);
    if (!(d <= 1e-9)) throw new Error(`${where}: ${k} ${ours[k]} != Python's ${theirs[k]}`);
    max = Math.max(max, d);
  }
  return max;
}

it('finds the discs and rejections of grading_discs.py spine_discs on the same masks', () => {
  let max = 0;
  let gaps = 0;
  const reasons = new Set<string>();
  for (const c of cases) {
    const ours = spineDiscs(c.mask);
    const theirs = py.cases[c.id];
    expect({ id: c.id, discs: ours.discs.length }).toEqual({ id: c.id, discs: theirs.discs.length });
    ours.discs.forEach(
      (d, k) => (max = Math.max(max, expectSameDisc(d, theirs.discs[k], `${c.id} disc ${k}`))),
    );
    expect({ id: c.id, rejected: ours.rejected.map((r) => [r.disc.label, r.reason]) }).toEqual({
      id: c.id,
      rejected: theirs.rejected.map((r) => [r.disc.label, r.reason]),
    });
    expect({ id: c.id, places: ours.places }).toEqual({ id: c.id, places: theirs.places });
    if (ours.places.length && ours.places[ours.places.length - 1] > ours.places.length) gaps++;
    ours.rejected.forEach((r, k) => {
      max = Math.max(max, expectSameDisc(r.disc, theirs.rejected[k].disc, `${c.id} rejected ${k}`));
      reasons.add(r.reason);
    });
  }
  // every branch was taken somewhere: each reason, and a gap in a chain (a missed disc skips a place)
  expect(gaps).toBeGreaterThan(0);
  expect([...reasons].sort()).toEqual(['beside a larger disc', 'off the spine', 'round', 'small', 'steep']);
  // the real slices: about seven discs each
  for (const s of SLICES)
    expect(spineDiscs(cases.find((c) => c.id === s)!.mask).discs.length).toBeGreaterThanOrEqual(5);
  expect(max).toBeLessThanOrEqual(1e-9);
});

it('builds the tensor of grading.py grading_input exactly: box, bytes before / 255, float32 values', () => {
  let discs = 0;
  let padded = 0;
  const channels = py.channels;
  expect([2, 3]).toContain(channels);
  for (const c of cases) {
    const { discs: found, labels } = spineDiscs(c.mask);
    if (found.length === 0) continue;
    const bytes = new Uint8Array(readFileSync(path.join(dir, 'py', `${c.id}.u8.bin`)));
    const x = f32(path.join(dir, 'py', `${c.id}.x.bin`));
    const plane = 64 * 64;
    found.forEach((d, k) => {
      const g = gradingInput(c.image, d, { channels, labels });
      const b = g.box;
      expect({ id: c.id, k, box: [b.x0, b.y0, b.x1, b.y1] }).toEqual({
        id: c.id,
        k,
        box: py.cases[c.id].boxes[k],
      });
      if (b.x0 < 0 || b.y0 < 0 || b.x1 >= c.image.width || b.y1 >= c.image.height) padded++;
      const theirs = bytes.subarray(k * channels * plane, (k + 1) * channels * plane);
      expect(Buffer.from(g.resized.data).equals(Buffer.from(theirs.subarray(0, plane)))).toBe(true);
      expect(Buffer.from(g.enhanced.data).equals(Buffer.from(theirs.subarray(plane, 2 * plane)))).toBe(true);
      if (channels === 3)
        expect(Buffer.from(g.own!.data).equals(Buffer.from(theirs.subarray(2 * plane)))).toBe(true);
      const xs = x.subarray(k * channels * plane, (k + 1) * channels * plane);
      expect(Buffer.from(g.tensor.data.buffer).equals(Buffer.from(xs.slice().buffer))).toBe(true);
      expect(g.tensor.dims).toEqual([1, channels, 64, 64]);
      // the TypeScript CLAHE gives the same bytes as OpenCV's
      expect(
        Buffer.from(gradingInput(c.image, d, { clahe: 'reference' }).enhanced.data).equals(
          Buffer.from(g.enhanced.data),
        ),
      ).toBe(true);
      discs++;
    });
  }
  expect(discs).toBeGreaterThan(60);
  expect(padded).toBeGreaterThan(0);
});

it('grades like training.inference.Runner within 1e-5 (ONNX Runtime in Node against Python)', async () => {
  expect(grader.card.output.classes).toEqual(py.classes);
  const channels = grader.card.input.shape[1] as number;
  expect(channels).toBe(py.model_channels);
  let max = 0;
  let n = 0;
  for (const c of cases) {
    const { discs: found, labels } = spineDiscs(c.mask);
    if (found.length === 0) continue;
    const plane = channels * 64 * 64;
    const batch = new Float32Array(found.length * plane);
    found.forEach((d, k) => batch.set(gradingInput(c.image, d, { channels, labels }).tensor.data, k * plane));
    const out = await grader.run(batch, found.length);
    expect(out.dims).toEqual([found.length, py.classes.length]);
    const theirs = f32(path.join(dir, 'py', `${c.id}.out.bin`));
    expect(out.data.length).toBe(theirs.length);
    for (let i = 0; i < theirs.length; i++) max = Math.max(max, Math.abs(out.data[i] - theirs[i]));
    n += found.length;
  }
  expect(n).toBeGreaterThan(60);
  expect(max).toBeLessThanOrEqual(1e-5);
});
