/**
 * Acceptance: the out-of-distribution check of axial crops (packages/pipeline/src/ood.ts) gives training/ood.py's
 * features exactly (the 16x16 feature image of the crop before CLAHE, byte for byte, hence the same float64 / 255)
 * and its score within 1e-9, with the shipped models/ax-ood/ood.json, on real Mendeley axial slices (T2 and T1
 * discs, ground-truth masks) and on phantom axial slices (ground-truth masks).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cropDisc } from '@lumbar/imaging';
import { readOodModel } from '@lumbar/inference';
import { oodCheck, oodFeatures, oodSmall } from '@lumbar/pipeline';
import { makeTmpDir, removeDir } from '../helpers/files';
import { runTool } from '../helpers/run';
import { repoRoot } from '../helpers/shared';
import { mendeleyAxialCase, phantomAxialCases, writeAxialCases, type AxialCase } from './fixtures';

const PYTHON = path.join(repoRoot, 'training', '.venv', 'bin', 'python');
const MODELS = path.join(repoRoot, 'models');
// a disc slice of each split and contrast: train T1, train T2, test T1, test T2
const MENDELEY = [
  'train__with_pain__spine_0001',
  'train__with_pain__spine_0004',
  'validation__with_pain__spine_0000',
  'validation__with_pain__spine_0021',
];

let tmp: string;
beforeAll(() => {
  tmp = makeTmpDir('ood-parity-');
});
afterAll(() => removeDir(tmp));

it('gives the features and scores of training/ood.py on real and phantom crops', async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: run scripts/setup.sh`);
  const model = readOodModel(MODELS);
  if (!model) throw new Error(`${MODELS}/ax-ood/ood.json not found: run python -m training.ood fit`);
  const cases: Record<string, AxialCase> = {};
  const labels = readFileSync(path.join(repoRoot, 'annotations', 'mendeley-axial', 'labels.csv'), 'utf8');
  for (const name of MENDELEY.filter((n) => labels.includes(`${n}.png,disc,`)))
    cases[name] = mendeleyAxialCase(name);
  const phantom = await phantomAxialCases(tmp, 'ood-parity', 4);
  expect(Object.keys(phantom).length).toBeGreaterThan(0);
  Object.assign(cases, phantom);
  writeAxialCases(tmp, cases);
  const run = await runTool(
    PYTHON,
    [path.join(__dirname, 'ood_parity.py'), tmp, path.join(MODELS, 'ax-ood', 'ood.json')],
    { timeoutMs: 120_000 },
  );
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const scores = JSON.parse(readFileSync(path.join(tmp, 'py', 'scores.json'), 'utf8')) as Record<
    string,
    number
  >;
  expect(Object.keys(scores).sort()).toEqual(Object.keys(cases).sort());
  expect(Object.keys(cases).filter((k) => k.startsWith('phantom_')).length).toBeGreaterThan(0);
  expect(Object.keys(cases).filter((k) => !k.startsWith('phantom_')).length).toBe(MENDELEY.length);
  for (const [id, c] of Object.entries(cases)) {
    const crop = cropDisc(c.image, c.mask, 'axial', { clahe: false })!;
    const small = oodSmall(crop.resized, model.size);
    const py = new Uint8Array(readFileSync(path.join(tmp, 'py', `${id}.small.bin`)));
    expect(Buffer.from(small.data).equals(Buffer.from(py))).toBe(true);
    expect([...oodFeatures(crop.resized, model.size)]).toEqual([...py].map((v) => v / 255));
    const r = oodCheck(model, crop.resized);
    expect(Math.abs(r.score - scores[id])).toBeLessThan(1e-9);
    expect(r.threshold).toBe(model.threshold);
  }
}, 300_000);
