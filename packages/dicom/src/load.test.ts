import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { makeTmpDir, removeDir } from '../../../test/helpers/files';
import { cliMain } from '../../../test/helpers/phantom';
import { runTool } from '../../../test/helpers/run';
import { repoRoot } from '../../../test/helpers/shared';
import { loadStudies, loadStudy, readSeriesFrames } from './load';
import { selectSeries } from './select';

interface Truth {
  studies: Array<{
    dir: string;
    studyInstanceUid: string;
    series: Array<{ folder: string; kind: string; seriesInstanceUid: string; instances: number }>;
  }>;
}

// The phantom renders in a child process (15x slower inside jest); it needs `npx tsc -b` first.
let out: string;
let truth: Truth;
beforeAll(async () => {
  if (!existsSync(cliMain)) throw new Error(`${cliMain} not found: build first (npx tsc -b)`);
  out = makeTmpDir('dicom-load');
  const args = [cliMain, 'phantom', '--out', out, '--studies', '3', '--seed', '11', '--quiet'];
  const run = await runTool(process.execPath, args, { cwd: repoRoot, timeoutMs: 300_000 });
  if (run.code !== 0) throw new Error(`phantom failed: ${run.stderr}${run.stdout}`);
  truth = JSON.parse(readFileSync(path.join(out, 'truth.json'), 'utf8')) as Truth;
}, 300_000);
afterAll(() => removeDir(out));

it('indexes every study and series, skipping the PNG masks and truth.json with a warning each', async () => {
  const { studies, warnings, files } = await loadStudies(out);
  expect(studies.map((s) => s.studyInstanceUid).sort()).toEqual(
    truth.studies.map((s) => s.studyInstanceUid).sort(),
  );
  const dicomFiles = truth.studies.flatMap((s) => s.series).reduce((n, s) => n + s.instances, 0);
  expect(files - warnings.length).toBe(dicomFiles);
  expect(warnings.some((w) => w.file.endsWith('truth.json'))).toBe(true);
  const masks = warnings.filter((w) => w.file.includes(`${path.sep}masks${path.sep}`));
  expect(masks.length).toBeGreaterThan(0);
  expect(masks[0].reason).toMatch(/not a DICOM Part 10 file/);
  for (const t of truth.studies) {
    const study = studies.find((s) => s.studyInstanceUid === t.studyInstanceUid);
    expect(study?.series.map((s) => [s.seriesInstanceUid, s.instances.length])).toEqual(
      t.series.map((s) => [s.seriesInstanceUid, s.instances]),
    );
  }
});

it('selects the sagittal T2 and the axial T2 that truth.json names, and rejects the rest with reasons', async () => {
  for (const t of truth.studies) {
    const study = await loadStudy(path.join(out, t.dir));
    const result = selectSeries(study);
    const uidOf = (kind: string) => t.series.find((s) => s.kind === kind)?.seriesInstanceUid;
    expect(result.selected.sagittalT2?.series.seriesInstanceUid).toBe(uidOf('t2_sag'));
    expect(result.selected.axialT2?.series.seriesInstanceUid).toBe(uidOf('t2_tra'));
    expect(result.missing).toEqual([]);
    const reasons = (kind: string) =>
      result.rejected.find((r) => r.series.seriesInstanceUid === uidOf(kind))?.reasons.join('; ') ?? '';
    expect(reasons('localizer')).toMatch(/localizer|mixed orientations/);
    expect(reasons('t1_sag')).toBe('it is sagittal T1: no target wants it');
  }
});

it('a study without its axial series, or with only T1, gives a "no ... T2 series" result', async () => {
  const t = truth.studies[0];
  const dir = path.join(out, 'edited');
  cpSync(path.join(out, t.dir), dir, { recursive: true });
  const folder = (kind: string) => path.join(dir, t.series.find((s) => s.kind === kind)?.folder ?? '');
  rmSync(folder('t2_tra'), { recursive: true });
  let result = selectSeries(await loadStudy(dir));
  expect(result.missing).toEqual(['no axial T2 series']);
  expect(result.selected.sagittalT2).not.toBeNull();
  rmSync(folder('t2_sag'), { recursive: true });
  result = selectSeries(await loadStudy(dir));
  expect(result.selected).toEqual({ sagittalT2: null, axialT2: null });
  expect(result.missing).toEqual(['no sagittal T2 series', 'no axial T2 series']);
  rmSync(dir, { recursive: true });
});

it('decodes a selected series on demand, one frame per slice with its plane', async () => {
  const t = truth.studies[1];
  const study = await loadStudy(path.join(out, t.dir));
  const axial = selectSeries(study).selected.axialT2;
  const group = study.series.find((s) => s.seriesInstanceUid === axial?.series.seriesInstanceUid);
  expect(group).toBeDefined();
  const frames = await readSeriesFrames(group!);
  expect(frames).toHaveLength(group!.instances.length);
  expect(frames.every((f) => f.plane !== null && f.pixels.length === f.rows * f.columns)).toBe(true);
  expect(frames[0].pixels.some((v) => v > 0)).toBe(true);
});

it('a folder with several studies is refused by loadStudy, and an empty one yields nothing', async () => {
  await expect(loadStudy(out)).rejects.toThrow(/3 studies found, expected one/);
  const empty = makeTmpDir('dicom-empty');
  try {
    expect(await loadStudies(empty)).toEqual({ studies: [], warnings: [], files: 0 });
  } finally {
    removeDir(empty);
  }
});
