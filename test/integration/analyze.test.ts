// `lumbar analyze` end to end with the shipped models: a phantom study in, findings.json and key images out.
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTmpDir, removeDir } from '../helpers/files';
import { cliMain, generatePhantom, studyDirs } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { repoRoot } from '../helpers/shared';

const analyze = (...args: string[]) =>
  runTool(process.execPath, [cliMain, 'analyze', ...args], { cwd: repoRoot, timeoutMs: 120_000 });

describe('lumbar analyze', () => {
  let tmp: string;
  let study: string;
  let truth: { studies: Array<{ levels: Record<string, string> }> };
  beforeAll(async () => {
    tmp = makeTmpDir('analyze');
    await generatePhantom(path.join(tmp, 'in'), 20261127);
    [study] = studyDirs(path.join(tmp, 'in'));
    truth = JSON.parse(readFileSync(path.join(tmp, 'in', 'truth.json'), 'utf8'));
  });
  afterAll(() => removeDir(tmp));

  it('writes findings.json with one finding per reported level, and key images', async () => {
    const out = path.join(tmp, 'out');
    const run = await analyze(study, '--out', out);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const f = JSON.parse(readFileSync(path.join(out, 'findings.json'), 'utf8'));
    expect(run.stdout.split('\n')[0]).toBe(f.summary);
    expect(f.algorithm).toMatchObject({ name: 'lumbar-ai', version: expect.any(String) });
    expect(f.disclaimer).toMatch(/not for primary diagnosis/i);
    expect(f.levels.map((l: { level: string }) => l.level)).toEqual(['L4-L5', 'L5-S1']);
    // the phantom's discs are found: L3-L4 up to L5-S1 at least, from the sacrum upward
    expect(f.discs.map((d: { level: string }) => d.level).slice(0, 3)).toEqual(['L5-S1', 'L4-L5', 'L3-L4']);
    for (const l of f.levels) {
      expect(['healthy', 'bulge', 'central', 'left', 'right', 'indeterminate']).toContain(l.diagnosis);
      const sum = Object.values(l.probabilities as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 4);
      expect(l.evidence.axial.length).toBeGreaterThan(0);
      expect(l.evidence.sagittal.sopInstanceUid).toMatch(/^2\.25\./);
      if (l.diagnosis === 'indeterminate') expect(l.reason).toEqual(expect.any(String));
    }
    expect(f.timingsMs.total).toBeGreaterThan(0);
    const keys = readdirSync(path.join(out, 'key-images'));
    expect(keys.length).toBe(f.keyImages.length);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    const png = readFileSync(path.join(out, 'key-images', keys[0]));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(truth.studies).toHaveLength(1);
  });

  it('exits 2 with a sentence on bad input, and writes nothing', async () => {
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    writeFileSync(path.join(empty, 'notes.txt'), 'not dicom');
    const t1only = path.join(tmp, 't1only');
    const t1 = readdirSync(study).find((d) => /t1/i.test(d))!;
    cpSync(path.join(study, t1), path.join(t1only, t1), { recursive: true });
    for (const [dir, why] of [
      [path.join(tmp, 'missing'), /no such file|ENOENT|not found/i],
      [empty, /0 studies/],
      [t1only, /sagittal T2/],
    ] as const) {
      const out = path.join(tmp, 'bad-out');
      const run = await analyze(dir, '--out', out);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^lumbar: /);
      expect(run.stderr).toMatch(why);
      rmSync(out, { recursive: true, force: true });
    }
  });
});
