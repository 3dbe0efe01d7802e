// `lumbar analyze` with the sagittal grader (models/sag-grading): findings.json carries every graded disc and each
// reported level's grading, the printed summary has a grading line; without the grader's folder, nothing of it.
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { makeTmpDir, removeDir } from '../helpers/files';
import { cliMain, generatePhantom, studyDirs } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { repoRoot } from '../helpers/shared';

const analyze = (...args: string[]) =>
  runTool(process.execPath, [cliMain, 'analyze', ...args], { cwd: repoRoot, timeoutMs: 120_000 });

interface Grading {
  level: string;
  fromBottom: number;
  herniation: number;
  pfirrmann: { grade: number; distribution: number[] };
  flags: Record<string, boolean>;
  model: { name: string; version: string };
}

describe('lumbar analyze with the sagittal grader', () => {
  let tmp: string;
  let study: string;
  beforeAll(async () => {
    tmp = makeTmpDir('analyze-grading');
    await generatePhantom(path.join(tmp, 'in'), 20261206);
    [study] = studyDirs(path.join(tmp, 'in'));
  });
  afterAll(() => removeDir(tmp));

  it('writes the gradings into findings.json and prints a grading line', async () => {
    const out = path.join(tmp, 'with');
    const run = await analyze(study, '--out', out);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const f = JSON.parse(readFileSync(path.join(out, 'findings.json'), 'utf8'));
    const card = JSON.parse(readFileSync(path.join(repoRoot, 'models', 'sag-grading', 'model.json'), 'utf8'));
    expect(f.algorithm.models.sagittalGrading).toEqual({ name: card.name, version: card.version });
    const gradings = f.gradings as Grading[];
    // every disc found, up to six, from L5-S1 up
    expect(gradings.map((g) => g.level)).toEqual(
      f.discs.map((d: { level: string }) => d.level).slice(0, gradings.length),
    );
    expect(gradings.map((g) => g.fromBottom)).toEqual(gradings.map((_, i) => i + 1));
    expect(gradings.length).toBeGreaterThanOrEqual(3);
    for (const g of gradings) {
      expect(g.pfirrmann.distribution).toHaveLength(5);
      expect(g.pfirrmann.grade).toBeGreaterThanOrEqual(1);
      expect(g.flags.herniation).toBe(g.herniation >= card.output.thresholds.herniation);
    }
    for (const l of f.levels) {
      const { level: _level, ...g } = gradings.find((x) => x.level === l.level)!;
      expect(l.grading).toEqual(g);
      expect(l.evidence.sagittal.herniationProbability).toBe(g.herniation);
    }
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(f.summary);
    expect(lines[1]).toMatch(
      new RegExp(`^sagittal grading \\(${card.name} ${card.version}\\): L5-S1 Pfirrmann [1-5]`),
    );
  });

  it('works as before without models/sag-grading', async () => {
    const models = path.join(tmp, 'models');
    mkdirSync(models);
    for (const m of ['sag-seg-unet', 'ax-seg-unet', 'sag-cls-discnet', 'ax-cls-discnet'])
      symlinkSync(path.join(repoRoot, 'models', m), path.join(models, m));
    const out = path.join(tmp, 'without');
    const run = await analyze(study, '--out', out, '--models', models);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const f = JSON.parse(readFileSync(path.join(out, 'findings.json'), 'utf8'));
    expect(f.gradings).toEqual([]);
    expect(f.levels.map((l: { grading: unknown }) => l.grading)).toEqual([null, null]);
    expect(f.algorithm.models.sagittalGrading).toBeUndefined();
    expect(run.stdout.split('\n')[1]).toMatch(/^wrote /);
  });
});
