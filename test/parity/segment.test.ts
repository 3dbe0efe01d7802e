/**
 * Acceptance: the pipeline's segmentation step (segmentBatch: letterbox to the card's size, ONNX Runtime in Node,
 * the card's output.upsample back to each slice) gives the masks that the Python training code gives
 * (training/inference.py Runner.segment, onnxruntime in Python) with the shipped sag-seg-unet, on real SPIDER
 * slices; and segments them (Dice against SPIDER's own disc masks).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OnnxModel } from '@lumbar/inference';
import { segmentBatch, segmentationSize } from '@lumbar/pipeline';
import { makeTmpDir, removeDir } from '../helpers/files';
import { runTool } from '../helpers/run';
import { repoRoot, sharedPath } from '../helpers/shared';
import { readGrayPng } from './fixtures';

const PYTHON = path.join(repoRoot, 'training', '.venv', 'bin', 'python');
const MODEL = path.join(repoRoot, 'models', 'sag-seg-unet');
// two held-out test patients of sag-seg-unet's split (stage1-split.json), central slices
const NAMES = ['166_t2_SPACE_slice60.png', '18_t2_SPACE_slice46.png'];

let dir: string;
beforeAll(() => {
  dir = makeTmpDir('segment');
});
afterAll(() => removeDir(dir));

it('segments real SPIDER slices like training/inference.py Runner.segment, back at each slice size', async () => {
  const files = NAMES.map((n) => sharedPath('data', 'spider', 't2_space', 'images', n));
  const py = await runTool(
    PYTHON,
    [
      '-c',
      [
        'import sys, numpy as np',
        'from PIL import Image',
        'from training.inference import Runner',
        'r = Runner(sys.argv[1], "cpu")',
        'for i, f in enumerate(sys.argv[3:]):',
        '    r.segment(np.array(Image.open(f).convert("L"))).astype(np.uint8).tofile(f"{sys.argv[2]}/{i}.bin")',
      ].join('\n'),
      MODEL,
      dir,
      ...files,
    ],
    { cwd: repoRoot, timeoutMs: 120_000 },
  );
  expect(py.stderr + py.stdout).not.toMatch(/Traceback/);
  expect(py.code).toBe(0);

  const model = await OnnxModel.open(MODEL, { intraOpThreads: 1 });
  expect(segmentationSize(model)).toBe(model.card.input.shape[2]);
  const images = files.map(readGrayPng);
  // the first slice twice: several calls in one batch, each mask at its own place
  const masks = await segmentBatch(
    model,
    [...images, images[0]].map((image) => ({ image })),
  );
  expect(masks).toHaveLength(3);
  expect(Array.from(masks[2].data)).toEqual(Array.from(masks[0].data));
  images.forEach((img, i) => {
    const m = masks[i];
    expect([m.width, m.height]).toEqual([img.width, img.height]);
    const theirs = new Uint8Array(readFileSync(path.join(dir, `${i}.bin`)));
    let differ = 0;
    for (let k = 0; k < theirs.length; k++) if (theirs[k] !== m.data[k]) differ++;
    // the two ONNX Runtime builds may round the last float bit differently: a pixel at exactly 0.5 may flip
    expect(differ).toBeLessThanOrEqual(Math.ceil(theirs.length * 0.0005));
    const truth = readGrayPng(
      files[i].replace(`${path.sep}images${path.sep}`, `${path.sep}masks${path.sep}`),
    );
    let inter = 0;
    let sum = 0;
    for (let k = 0; k < truth.data.length; k++) {
      const t = truth.data[k] === 2 ? 1 : 0;
      inter += t & m.data[k];
      sum += t + m.data[k];
    }
    expect((2 * inter) / sum).toBeGreaterThan(0.75);
  });
}, 180_000);
