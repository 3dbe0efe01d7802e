// `lumbar evaluate` with the shipped models: phantom studies against truth.json (confusion matrix, the list of the
// levels it got wrong), SPIDER sagittal slices against the grades, and a sentence for bad input.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { makeTmpDir, removeDir } from '../helpers/files';
import { cliMain, generatePhantom } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { repoRoot, sharedPath } from '../helpers/shared';

const evaluate = (...args: string[]) =>
  runTool(process.execPath, [cliMain, 'evaluate', ...args], { cwd: repoRoot, timeoutMs: 300_000 });

interface Out {
  phantom: {
    levels: { n: number; accuracy: number; classes: string[]; predicted: string[]; matrix: number[][] };
    errors: Array<{ study: string; level: string; truth: string; found: string }>;
  };
  spider: { herniationLevel: { n: number; matrix: number[][] } };
}

describe('lumbar evaluate', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = makeTmpDir('evaluate');
  });
  afterAll(() => removeDir(tmp));

  it('scores phantom levels against truth.json and lists every level it got wrong', async () => {
    const dir = path.join(tmp, 'phantom');
    await generatePhantom(dir, 7, 4);
    const truth = JSON.parse(readFileSync(path.join(dir, 'truth.json'), 'utf8')) as {
      studies: Array<{ dir: string; levels: Record<string, string> }>;
    };
    const split = path.join(repoRoot, 'models', 'sag-cls-discnet', 'report', 'split.json');
    const run = await evaluate(
      '--phantom',
      dir,
      '--spider',
      sharedPath('data', 'spider'),
      '--patients',
      split,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as Out;
    const { levels, errors } = out.phantom;
    expect(levels.n).toBe(2 * truth.studies.length);
    expect(levels.matrix.flat().reduce((a, b) => a + b, 0)).toBe(levels.n);
    const correct = levels.classes.reduce((a, c, i) => a + levels.matrix[i][levels.predicted.indexOf(c)], 0);
    expect(correct / levels.n).toBeCloseTo(levels.accuracy, 10);
    expect(errors).toHaveLength(levels.n - correct);
    for (const e of errors) {
      const study = truth.studies.find((s) => s.dir === e.study);
      expect(study?.levels[e.level]).toBe(e.truth);
      expect(e.found).not.toBe(e.truth);
    }
    // the sagittal classifier's held-out SPIDER patients: one slice per series, every slice scored once
    const sp = out.spider.herniationLevel;
    expect(sp.n).toBeGreaterThan(0);
    expect(sp.matrix.flat().reduce((a, b) => a + b, 0)).toBe(sp.n);
  }, 600_000);

  it('says what is missing when given no data', async () => {
    const run = await evaluate();
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/give --phantom DIR and\/or --spider DIR/);
  });
});
