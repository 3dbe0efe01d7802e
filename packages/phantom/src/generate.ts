import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { ALGORITHM, DISC_LEVELS, AXIAL_CLASSES, InputError } from '@lumbar/core';
import {
  DatasetRows,
  LABEL_COLUMNS,
  SAMPLE_COLUMNS,
  csv,
  prepareDatasetDir,
  writeDatasetStudy,
} from './dataset';
import { PhantomStyle, PHANTOM_STYLES } from './protocol';
import { StudyTruth, writeStudy } from './study';

export type PhantomMode = 'dicom' | 'dataset';

export interface GenerateOptions {
  out: string;
  studies: number;
  seed: string | number;
  mode?: PhantomMode;
  /** Appearance (docs/PHANTOM.md): `classic` (default) or `realistic`. */
  style?: PhantomStyle;
  /** Worker threads (default: one per CPU core, at most the number of studies). */
  workers?: number;
  onStudy?: (done: number, total: number) => void;
}

export interface GenerateResult {
  studies: StudyTruth[];
  samples?: number;
  labels?: number;
}

export type StudyJob = {
  out: string;
  seed: string | number;
  index: number;
  mode: PhantomMode;
  style: PhantomStyle;
};
export type StudyOutput = StudyTruth | DatasetRows;

export function runStudyJob(job: StudyJob): StudyOutput {
  return job.mode === 'dicom'
    ? writeStudy(job.out, job.seed, job.index, job.style)
    : writeDatasetStudy(job.out, job.seed, job.index, job.style);
}

/**
 * Generates `studies` synthetic studies. Output depends only on the seed and the study index, never
 * on the number of workers or their timing: results are gathered and written in index order.
 */
export async function generate(opt: GenerateOptions): Promise<GenerateResult> {
  const mode = opt.mode ?? 'dicom';
  const style = opt.style ?? 'classic';
  if (!PHANTOM_STYLES.includes(style))
    throw new InputError(`--style must be one of ${PHANTOM_STYLES.join(', ')}, got ${String(style)}`);
  if (!Number.isInteger(opt.studies) || opt.studies < 1)
    throw new InputError(`--studies must be a positive integer, got ${opt.studies}`);
  if (String(opt.seed).length === 0) throw new InputError('--seed must not be empty');
  mkdirSync(opt.out, { recursive: true });
  if (mode === 'dataset') prepareDatasetDir(opt.out);
  const jobs: StudyJob[] = Array.from({ length: opt.studies }, (_, index) => ({
    out: opt.out,
    seed: opt.seed,
    index,
    mode,
    style,
  }));
  const results = await runJobs(jobs, opt.workers, opt.onStudy);
  if (mode === 'dicom') {
    const studies = results as StudyTruth[];
    writeTruth(opt.out, opt.seed, style, studies);
    return { studies };
  }
  const rows = results as DatasetRows[];
  const studies = rows.map((r) => r.truth);
  const samples = rows.flatMap((r) => r.samples);
  const labels = rows.flatMap((r) => r.labels);
  writeTruth(opt.out, opt.seed, style, studies);
  writeFileSync(join(opt.out, 'samples.csv'), csv(SAMPLE_COLUMNS, samples));
  writeFileSync(join(opt.out, 'labels.csv'), csv(LABEL_COLUMNS, labels));
  writeFileSync(
    join(opt.out, 'dataset.json'),
    JSON.stringify(
      {
        generator: `${ALGORITHM.name} phantom`,
        version: ALGORITHM.version,
        synthetic: true,
        seed: opt.seed,
        ...(style === 'classic' ? {} : { style }),
        studies: opt.studies,
        labelMap: Object.fromEntries(DISC_LEVELS.map((l, i) => [String(i + 1), l])),
        axialClasses: AXIAL_CLASSES,
        sagittalClasses: ['healthy', 'L4-L5', 'L5-S1'],
        imageWindow: { lowPercentile: 0.5, highPercentile: 99.5 },
      },
      null,
      2,
    ) + '\n',
  );
  return { studies, samples: samples.length, labels: labels.length };
}

function writeTruth(out: string, seed: string | number, style: PhantomStyle, studies: StudyTruth[]): void {
  const doc = {
    generator: `${ALGORITHM.name} phantom ${ALGORITHM.version}`,
    seed,
    // the classic style writes no key, so that its files stay as they were
    ...(style === 'classic' ? {} : { style }),
    synthetic: true,
    studies: studies.map((s) => ({
      dir: s.dir,
      studyInstanceUid: s.studyInstanceUid,
      patientId: s.patientId,
      levels: s.levels,
      series: s.series,
    })),
  };
  writeFileSync(join(out, 'truth.json'), JSON.stringify(doc, null, 2) + '\n');
}

async function runJobs(
  jobs: StudyJob[],
  workers: number | undefined,
  onStudy?: (d: number, t: number) => void,
): Promise<StudyOutput[]> {
  const results: StudyOutput[] = new Array(jobs.length);
  let done = 0;
  const cores = availableParallelism();
  const count = Math.max(1, Math.min(workers ?? cores, jobs.length));
  // Workers need the compiled JavaScript; under ts-jest/swc (a .ts file) run in this thread.
  const workerFile = join(__dirname, 'worker.js');
  if (count === 1 || __filename.endsWith('.ts')) {
    for (const job of jobs) {
      results[job.index] = runStudyJob(job);
      onStudy?.(++done, jobs.length);
    }
    return results;
  }
  let next = 0;
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(workerFile);
          const feed = () => {
            if (next >= jobs.length) {
              void w.terminate().then(() => resolve());
              return;
            }
            w.postMessage(jobs[next++]);
          };
          w.on('message', (msg: { index: number; result?: StudyOutput; error?: string }) => {
            if (msg.error) {
              void w.terminate();
              reject(new Error(`phantom study ${msg.index}: ${msg.error}`));
              return;
            }
            results[msg.index] = msg.result!;
            onStudy?.(++done, jobs.length);
            feed();
          });
          w.on('error', reject);
          feed();
        }),
    ),
  );
  return results;
}
