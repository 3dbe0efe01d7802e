/**
 * Acceptance: the axial slice gate's input (packages/imaging/src/gateInput.ts) is training/slice_gate.py's, byte
 * for byte, and the shipped models/ax-slice-gate gives the same probabilities through onnxruntime-node as through
 * Python's onnxruntime (within 1e-5), on real Mendeley axial slices (a T1 and a T2 disc of the train split with their project masks,
 * and a vertebral-body slice with a disc-sized blob as the U-Net outlines there) and on phantom axial slices.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gateChannels, gateInput, discBbox, type GrayImage } from '@lumbar/imaging';
import { OnnxModel } from '@lumbar/inference';
import { makeTmpDir, removeDir } from '../helpers/files';
import { runTool } from '../helpers/run';
import { repoRoot, sharedPath } from '../helpers/shared';
import {
  mendeleyAxialCase,
  phantomAxialCases,
  readGrayPng,
  writeAxialCases,
  type AxialCase,
} from './fixtures';

const PYTHON = path.join(repoRoot, 'training', '.venv', 'bin', 'python');
const MODEL = path.join(repoRoot, 'models', 'ax-slice-gate');
const MENDELEY = ['train__with_pain__spine_0001', 'train__with_pain__spine_0004'];
// a real slice through a vertebral body (no disc mask): an ellipse where the U-Net's blob sits
const BODY = 'validation__without_pain__spine_0007';

let tmp: string;
beforeAll(() => {
  tmp = makeTmpDir('gate-parity-');
});
afterAll(() => removeDir(tmp));

function ellipse(width: number, height: number, cx: number, cy: number, rx: number, ry: number): GrayImage {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) data[y * width + x] = 1;
  return { width, height, data };
}

it('gives the input and probabilities of training/slice_gate.py on real and phantom slices', async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: run scripts/setup.sh`);
  const model = await OnnxModel.open(MODEL);
  try {
    const contexts = (model.card.preprocessing as { contexts_tenths: number[] }).contexts_tenths;
    expect(contexts.length).toBe(model.card.input.shape[1]);
    const cases: Record<string, AxialCase> = {};
    for (const name of MENDELEY) cases[name] = mendeleyAxialCase(name);
    const body = readGrayPng(sharedPath('data', 'mendeley-axial-unlabelled', `${BODY}.png`));
    cases[BODY] = { image: body, mask: ellipse(body.width, body.height, 160, 150, 34, 26) };
    const phantom = await phantomAxialCases(tmp, 'gate-parity', 3);
    expect(Object.keys(phantom).length).toBeGreaterThan(0);
    Object.assign(cases, phantom);
    writeAxialCases(tmp, cases);
    const run = await runTool(PYTHON, [path.join(__dirname, 'gate_parity.py'), tmp, MODEL], {
      timeoutMs: 120_000,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const probs = JSON.parse(readFileSync(path.join(tmp, 'py', 'probs.json'), 'utf8')) as Record<
      string,
      number[]
    >;
    for (const [id, c] of Object.entries(cases)) {
      const box = discBbox(c.mask, 'axial');
      expect(box).not.toBeNull();
      const planes = gateChannels(c.image, box!, contexts);
      const ts = new Uint8Array(planes.length * planes[0].data.length);
      planes.forEach((p, k) => ts.set(p.data, k * p.data.length));
      const py = readFileSync(path.join(tmp, 'py', `${id}.gate.bin`));
      expect(Buffer.from(ts).equals(py)).toBe(true);
      const input = gateInput(c.image, c.mask, contexts)!;
      const out = await model.run(input.tensor.data, 1);
      expect(out.data.length).toBe(2);
      for (let k = 0; k < 2; k++) expect(Math.abs(out.data[k] - probs[id][k])).toBeLessThan(1e-5);
    }
    // the real T1 disc reads as not T2, the real T2 disc as T2 (the card's thresholds)
    const t = model.card.output.thresholds as Record<string, number>;
    expect(probs['train__with_pain__spine_0001'][1]).toBeLessThan(t.t2);
    expect(probs['train__with_pain__spine_0004'][1]).toBeGreaterThanOrEqual(t.t2);
  } finally {
    await model.close();
  }
}, 180_000);
