import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  AnalysisError,
  AnalysisPool,
  DEFAULT_MODELS_DIR,
  FindingsSchema,
  type AnalysisSettings,
  type PoolOptions,
} from '@lumbar/analysis';
import { Value } from 'typebox/value';
import { findFiles, makeTmpDir } from '../helpers/files';
import { generatePhantom, studyDirs } from '../helpers/phantom';
import { waitFor } from '../helpers/wait';
import { isAlive } from '../helpers/run';

// The analysis pool with real processes, real models and ONNX Runtime: what the worker relies on when a
// process hangs, dies or grows, and when the node stops.

const settings: AnalysisSettings = { modelsDir: DEFAULT_MODELS_DIR, providers: ['cpu'], intraOpThreads: 1 };
const options = (over: Partial<PoolOptions> = {}): PoolOptions => ({
  settings,
  size: 1,
  timeoutMs: 120_000,
  memoryLimitMb: 4000,
  retries: 1,
  ...over,
});
let study: string;
let pool: AnalysisPool;
const pools: AnalysisPool[] = [];
const start = async (over: Partial<PoolOptions> = {}) => {
  const p = await AnalysisPool.start(options(over));
  pools.push(p);
  return p;
};
const out = () => makeTmpDir('pool-out');

beforeAll(async () => {
  const dir = makeTmpDir('pool');
  await generatePhantom(dir, 4242, 1);
  study = studyDirs(dir)[0];
  pool = await start();
});

afterAll(async () => {
  for (const p of pools) await p.close({ graceMs: 0 });
});

describe('the analysis pool (long-lived processes, real models)', () => {
  it('analyses a study and returns findings that hold to the schema, with the files written', async () => {
    const dir = out();
    const o = await pool.analyze({ study, outDir: dir });
    expect(Value.Check(FindingsSchema, o.findings)).toBe(true);
    expect(o.attempts).toBe(1);
    expect(o.findings.levels.map((l) => l.level)).toContain('L5-S1');
    expect(JSON.parse(readFileSync(path.join(dir, 'findings.json'), 'utf8'))).toEqual(o.findings);
    expect(o.files).toEqual(expect.arrayContaining(['findings.json', 'sr.dcm', 'seg-sagittal.dcm']));
    for (const f of o.files) expect(existsSync(path.join(dir, f))).toBe(true);
  });

  it('takes a study as a list of files as well as a folder, with the same findings', async () => {
    const fromFolder = await pool.analyze({ study, outDir: out() });
    const fromFiles = await pool.analyze({ study: { files: findFiles(study, '.dcm') }, outDir: out() });
    expect(fromFiles.findings.levels).toEqual(fromFolder.findings.levels);
    expect(fromFiles.findings.summary).toBe(fromFolder.findings.summary);
  });

  it('keeps its event loop free while a study is analysed (the worker renews its queue locks)', async () => {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    await pool.analyze({ study, outDir: out() });
    h.disable();
    // an analysis in this process would block the loop for the whole analysis (about a second here)
    expect(h.max / 1e6).toBeLessThan(250);
  });

  it('a study that cannot be analysed is a BAD_INPUT error with a sentence; the process stays', async () => {
    const pid = pool.stats().processes[0].pid!;
    const err = await pool
      .analyze({ study: makeTmpDir('pool-empty'), outDir: out() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnalysisError);
    expect((err as AnalysisError).code).toBe('BAD_INPUT');
    expect((err as AnalysisError).message).toMatch(/0 studies found, expected one/);
    expect(pool.stats().processes[0].pid).toBe(pid);
  });

  it('a process killed mid-analysis is replaced and the study is retried in the new one', async () => {
    const before = pool.stats();
    const pid = before.processes[0].pid!;
    const running = pool.analyze({ study, outDir: out() });
    await waitFor('the study to reach the process', async () => pool.stats().busy === 1 || undefined, 5000);
    process.kill(pid, 'SIGKILL');
    const o = await running;
    expect(o.attempts).toBe(2);
    const after = pool.stats();
    expect(after.replacements).toBe(before.replacements + 1);
    expect(after.processes[0].pid).not.toBe(pid);
    expect(isAlive(pid)).toBe(false);
  });

  it('a study past the timeout is stopped, tried once more, then a TIMEOUT error; the pool goes on', async () => {
    const pid = pool.stats().processes[0].pid!;
    const err = await pool.analyze({ study, outDir: out() }, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnalysisError);
    expect((err as AnalysisError).code).toBe('TIMEOUT');
    expect((err as AnalysisError).message).toBe(
      'the analysis took longer than 50 ms and was stopped (2 attempts)',
    );
    expect(isAlive(pid)).toBe(false);
    const o = await pool.analyze({ study, outDir: out() });
    expect(o.findings.summary.length).toBeGreaterThan(0);
  });

  it('a process that grows past the memory limit is killed: OUT_OF_MEMORY, and it is replaced', async () => {
    const small = await start({ memoryLimitMb: 150, retries: 0 });
    const pid = small.stats().processes[0].pid!;
    const err = await small.analyze({ study, outDir: out() }).catch((e: unknown) => e);
    expect((err as AnalysisError).code).toBe('OUT_OF_MEMORY');
    expect((err as AnalysisError).message).toMatch(
      /^the analysis process grew to \d+ MB, past the limit of 150 MB$/,
    );
    expect(isAlive(pid)).toBe(false);
    await waitFor(
      'a new process',
      async () => (small.stats().processes[0].pid ?? pid) !== pid || undefined,
      60_000,
    );
  });

  it('close: a waiting study is refused, a running one released (SHUTDOWN) after the grace, processes gone', async () => {
    const p = await start();
    const pid = p.stats().processes[0].pid!;
    const dir = out();
    const running = p.analyze({ study, outDir: dir }).catch((e: unknown) => e);
    const waiting = p.analyze({ study, outDir: out() }).catch((e: unknown) => e);
    await waitFor('the study to reach the process', async () => p.stats().busy === 1 || undefined, 5000);
    await p.close({ graceMs: 0 });
    expect(((await waiting) as AnalysisError).code).toBe('SHUTDOWN');
    expect(((await running) as AnalysisError).code).toBe('SHUTDOWN');
    expect(isAlive(pid)).toBe(false);
    await expect(p.analyze({ study, outDir: out() })).rejects.toMatchObject({ code: 'SHUTDOWN' });
    expect(readdirSync(dir).includes('findings.json')).toBe(false);
  });

  it('close with a grace lets the running study finish', async () => {
    const p = await start();
    const pid = p.stats().processes[0].pid!;
    const running = p.analyze({ study, outDir: out() });
    await waitFor('the study to reach the process', async () => p.stats().busy === 1 || undefined, 5000);
    await p.close({ graceMs: 60_000 });
    await expect(running).resolves.toMatchObject({ attempts: 1 });
    expect(isAlive(pid)).toBe(false);
  });

  it('a models folder that cannot be loaded stops the start with a MODELS error naming it', async () => {
    const err = await AnalysisPool.start(
      options({ settings: { ...settings, modelsDir: '/nonexistent/models' } }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnalysisError);
    expect((err as AnalysisError).code).toBe('MODELS');
    expect((err as AnalysisError).message).toMatch(/\/nonexistent\/models/);
  });
});
