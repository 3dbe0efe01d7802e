import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import {
  AXIAL_CLASSES,
  InputError,
  LumbarError,
  parseIntraOpThreads,
  type AxialClass,
  type DiscLevel,
} from '@lumbar/core';
import { AnalysisEngine, DEFAULT_MODELS_DIR } from '@lumbar/analysis';
import { REPORT_LEVELS, type Diagnosis } from '@lumbar/pipeline';
import {
  findSiteStudies,
  matchSiteLabels,
  readSiteLabels,
  studiesWithoutLabels,
  type SiteLabel,
  type SiteStudy,
} from '../site/labels';

// `lumbar finetune`: a site's labelled studies in, a complete models folder out (docs/SITE-VALIDATION.md,
// "Fine-tuning at a site"). The node cuts the crops (analyzeStudy with captureInputs: the exact tensors its
// classifiers see), `python -m training finetune` (training/finetune.py) splits by patient, fine-tunes
// ax-cls-discnet and sag-grading from the given models and writes the new folders; then the node runs again
// on the held-out studies with the new models and prints its before-and-after figures.

/** The repository root (this file is packages/cli/{src,dist}/commands/finetune.{ts,js}). */
const REPO_ROOT = resolve(__dirname, '..', '..', '..', '..');

/** Where the crops, their labels and the split go, inside --out: site data, keep it at the site. */
export const WORK_DIR = 'work';
export const INPUTS_FILE = 'inputs.json';
export const REPORT_FILE = 'finetune-report.json';

export interface FinetuneCliOptions {
  studies: string;
  labels: string;
  out: string;
  split?: string;
  folds?: string;
  seed?: string;
  epochs?: string;
  models?: string;
  threads?: string;
  python?: string;
}

export interface FinetuneSettings {
  split: [number, number, number] | null;
  folds: number | null;
  seed: number;
  epochs: number;
}

const intIn = (raw: string, what: string, lo: number, hi: number): number => {
  const v = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(v) || v < lo || v > hi)
    throw new InputError(`${what}: "${raw}" is not an integer from ${lo} to ${hi}`);
  return v;
};

/** Checks the options that need no file: --split A:B:C (summing to 100) or --folds K, --seed, --epochs. */
export function finetuneSettings(
  o: Pick<FinetuneCliOptions, 'split' | 'folds' | 'seed' | 'epochs'>,
): FinetuneSettings {
  if (o.split !== undefined && o.folds !== undefined)
    throw new InputError('give --split or --folds, not both');
  let split: FinetuneSettings['split'] = null;
  let folds: number | null = null;
  if (o.folds !== undefined) folds = intIn(o.folds, '--folds', 3, 20);
  else {
    const raw = o.split ?? '80:10:10';
    const parts = raw.split(':');
    const nums = parts.map(Number);
    if (
      parts.length !== 3 ||
      parts.some((p) => !/^\d+$/.test(p.trim())) ||
      nums.reduce((a, b) => a + b, 0) !== 100 ||
      nums.some((n) => n < 1)
    )
      throw new InputError(
        `--split: "${raw}" is not train:validation:test percentages, each at least 1, summing to 100 (e.g. 80:10:10)`,
      );
    split = nums as [number, number, number];
  }
  return {
    split,
    folds,
    seed: o.seed === undefined ? 0 : intIn(o.seed, '--seed', 0, 2 ** 31 - 1),
    epochs: o.epochs === undefined ? 15 : intIn(o.epochs, '--epochs', 1, 1000),
  };
}

/** A pseudonym per key: `prefix` and the key's rank among the sorted SHA-256 of all keys (no identifier kept). */
export function pseudonyms(keys: readonly string[], prefix: string): Map<string, string> {
  const hashed = [...new Set(keys)].map((k) => [k, createHash('sha256').update(k).digest('hex')] as const);
  hashed.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const width = Math.max(3, String(hashed.length).length);
  return new Map(hashed.map(([k], i) => [k, `${prefix}${String(i + 1).padStart(width, '0')}`]));
}

const HERNIATED: readonly AxialClass[] = ['central', 'left', 'right'];

/** One labelled study as the node saw it with the given models. */
interface Captured {
  study: SiteStudy;
  key: string;
  patient: string;
  labels: SiteLabel[];
  /** The node's diagnosis of each reported level it labels. */
  diagnoses: Partial<Record<DiscLevel, Diagnosis>>;
}

/** Output directory: must not exist, or be empty (a models folder is never overwritten). */
function checkOut(out: string, base: string): void {
  if (resolve(out) === resolve(base))
    throw new InputError(`--out ${out} is the models folder the fine-tuning starts from: give a new folder`);
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new InputError(`--out ${out}: exists and is not a folder`);
  if (readdirSync(out).length > 0)
    throw new InputError(`--out ${out}: the folder is not empty (a models folder is never overwritten)`);
}

function pythonOf(o: FinetuneCliOptions, env: NodeJS.ProcessEnv): string {
  const py = o.python ?? env.LUMBAR_PYTHON ?? join(REPO_ROOT, 'training', '.venv', 'bin', 'python');
  if (!existsSync(py))
    throw new InputError(
      `${py}: no Python with the training code (run scripts/setup.sh, or give --python or LUMBAR_PYTHON)`,
    );
  return py;
}

/** The held-out figures of the node's diagnoses (accuracy, balanced accuracy, herniation sensitivity/specificity). */
export function diagnosisFigures(pairs: ReadonlyArray<{ truth: AxialClass; found: Diagnosis }>) {
  const n = pairs.length;
  const correct = pairs.filter((p) => p.truth === p.found).length;
  const recalls = AXIAL_CLASSES.flatMap((c) => {
    const of = pairs.filter((p) => p.truth === c);
    return of.length ? [of.filter((p) => p.found === c).length / of.length] : [];
  });
  const hern = (d: Diagnosis) => (HERNIATED as readonly string[]).includes(d);
  const pos = pairs.filter((p) => hern(p.truth));
  const neg = pairs.filter((p) => !hern(p.truth));
  return {
    n,
    accuracy: n ? correct / n : null,
    balancedAccuracy: recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : null,
    herniationSensitivity: pos.length ? pos.filter((p) => hern(p.found)).length / pos.length : null,
    herniationSpecificity: neg.length ? neg.filter((p) => !hern(p.found)).length / neg.length : null,
    indeterminate: pairs.filter((p) => p.found === 'indeterminate').length,
  };
}

const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(3));

/** Runs `python -m training finetune ...`, its output streamed to ours; rejects when it fails. */
function runPython(python: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(python, ['-m', 'training', 'finetune', ...args], {
      cwd: REPO_ROOT,
      env: { ...env, PYTHONPATH: [REPO_ROOT, env.PYTHONPATH].filter(Boolean).join(':') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (b: Buffer) => process.stdout.write(b));
    child.stderr.on('data', (b: Buffer) => process.stderr.write(b));
    child.on('error', (e) => fail(new InputError(`cannot run ${python}: ${e.message}`)));
    child.on('close', (code) =>
      code === 0
        ? ok()
        : fail(
            new LumbarError(
              'FINETUNE_FAILED',
              `python -m training finetune exited with ${code}: see its message above ` +
                `(${args[args.indexOf('--out') + 1]} is incomplete: remove it before running again)`,
            ),
          ),
    );
  });
}

export async function runFinetune(o: FinetuneCliOptions, env = process.env): Promise<{ report: string }> {
  const settings = finetuneSettings(o);
  const base = o.models ?? (env.LUMBAR_MODELS_DIR || DEFAULT_MODELS_DIR);
  checkOut(o.out, base);
  const labels = readSiteLabels(o.labels);
  const studies = findSiteStudies(o.studies);
  const matched = matchSiteLabels(labels, studies);
  // the patient of a study: labels.csv's patient_id, else the DICOM PatientID, else the study itself
  const patientKey = (m: (typeof matched)[number]) =>
    m.labels.find((l) => l.patientId !== undefined)?.patientId ??
    m.study.patientId ??
    `study:${m.study.studyInstanceUid}`;
  const nPatients = new Set(matched.map(patientKey)).size;
  const need = settings.folds ?? 3;
  if (nPatients < need)
    throw new InputError(
      `${o.labels}: the labelled studies are of ${nPatients} patient(s); ` +
        (settings.folds
          ? `${settings.folds}-fold cross-validation needs at least ${settings.folds}`
          : 'a train / validation / test split needs at least 3'),
    );
  const python = pythonOf(o, env);
  const intraOpThreads = parseIntraOpThreads(
    o.threads ?? env.LUMBAR_INTRA_OP_THREADS,
    '--threads / LUMBAR_INTRA_OP_THREADS',
  );
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const unlabelled = studiesWithoutLabels(labels, studies);
  if (unlabelled.length)
    say(`${unlabelled.length} study folder(s) have no labels and are left out, e.g. ${unlabelled[0].dir}`);

  const work = join(o.out, WORK_DIR);
  mkdirSync(work, { recursive: true });
  const engine = await AnalysisEngine.open({
    modelsDir: base,
    providers: ['cpu'],
    intraOpThreads: intraOpThreads ?? null,
  });
  const captured: Captured[] = [];
  const axialRows: Array<Record<string, unknown>> = [];
  const gradingRows: Array<Record<string, unknown>> = [];
  const axialBytes: Buffer[] = [];
  const gradingBytes: Buffer[] = [];
  let axialShape: readonly number[] = [];
  let gradingShape: readonly number[] = [];
  const patientOf = pseudonyms(matched.map(patientKey), 'P');
  const studyOf = pseudonyms(
    matched.map((m) => m.study.studyInstanceUid),
    'S',
  );
  // every input value is a uint8 / 255 (the models' cards say so): stored as the uint8, losslessly
  const u8 = (t: Float32Array) =>
    Buffer.from(
      Uint8Array.from(t, (v) => {
        const k = Math.round(v * 255);
        if (Math.abs(v * 255 - k) > 1e-3 || k < 0 || k > 255)
          throw new LumbarError('FINETUNE_FAILED', `a classifier input value ${v} is not a byte / 255`);
        return k;
      }),
    );
  try {
    for (const [i, m] of matched.entries()) {
      const key = studyOf.get(m.study.studyInstanceUid)!;
      const patient = patientOf.get(patientKey(m))!;
      let result;
      try {
        ({ result } = await engine.study(m.study.dir, { captureInputs: true }));
      } catch (err) {
        if (!(err instanceof LumbarError) || err.code === 'INTERNAL') throw err;
        say(`skipped ${m.study.dir}: ${err.message}`);
        continue;
      }
      const byLevel = new Map(m.labels.map((l) => [l.level, l]));
      const inputs = result.classifierInputs!;
      let nAx = 0;
      let nG = 0;
      for (const a of inputs.axial) {
        const l = byLevel.get(a.level);
        if (!l) continue;
        axialShape = a.shape;
        axialBytes.push(u8(a.tensor));
        axialRows.push({ study: key, patient, level: a.level, area: a.discAreaMm2, diagnosis: l.diagnosis });
        nAx++;
      }
      for (const g of inputs.grading) {
        const l = byLevel.get(g.level);
        if (!l) continue;
        gradingShape = g.shape;
        gradingBytes.push(u8(g.tensor));
        gradingRows.push({
          study: key,
          patient,
          level: g.level,
          fromBottom: g.fromBottom,
          herniation: l.herniation ?? (HERNIATED.includes(l.diagnosis) ? 1 : 0),
          bulging: l.bulging ?? null,
          narrowing: l.narrowing ?? null,
          pfirrmann: l.pfirrmann ?? null,
        });
        nG++;
      }
      const diagnoses: Captured['diagnoses'] = {};
      for (const f of result.levels) if (byLevel.has(f.level)) diagnoses[f.level] = f.diagnosis;
      captured.push({ study: m.study, key, patient, labels: m.labels, diagnoses });
      say(`study ${i + 1}/${matched.length} (${key}): ${nAx} axial crop(s), ${nG} graded disc(s)`);
    }
  } finally {
    await engine.close();
  }
  if (axialRows.length === 0 && gradingRows.length === 0)
    throw new InputError(
      `${o.studies}: the node found no labelled disc in any study: nothing to learn from (check the series and the labels' levels)`,
    );
  writeFileSync(join(work, 'axial.u8'), Buffer.concat(axialBytes));
  writeFileSync(join(work, 'grading.u8'), Buffer.concat(gradingBytes));
  const siteInputs = {
    format: 'lumbar-finetune-inputs/1',
    note: 'pseudonymous: studies and patients are numbered by the SHA-256 of their identifiers; pixels are site data',
    baseModels: engine.modelVersions(),
    studies: captured.map((c) => ({
      study: c.key,
      patient: c.patient,
      levels: Object.fromEntries(c.labels.map((l) => [l.level, l.diagnosis])),
    })),
    axial: { file: 'axial.u8', dtype: 'uint8 (value x 255)', shape: axialShape, rows: axialRows },
    grading: { file: 'grading.u8', dtype: 'uint8 (value x 255)', shape: gradingShape, rows: gradingRows },
  };
  writeFileSync(join(work, INPUTS_FILE), JSON.stringify(siteInputs) + '\n');
  say(
    `captured ${axialRows.length} axial crop(s) and ${gradingRows.length} graded disc(s) of ${captured.length} ` +
      `studies (${new Set(captured.map((c) => c.patient)).size} patients) in ${work}`,
  );

  const args = [
    '--work',
    resolve(work),
    '--base',
    resolve(base),
    '--out',
    resolve(o.out),
    '--seed',
    String(settings.seed),
    '--epochs',
    String(settings.epochs),
    ...(settings.folds ? ['--folds', String(settings.folds)] : ['--split', settings.split!.join(':')]),
  ];
  await runPython(python, args, env);

  // the study UIDs of each part (site-local, beside the crops): a later `lumbar validate` can keep to the held-out ones
  const reportFile = join(o.out, REPORT_FILE);
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
    split: { test?: string[]; folds?: string[][] };
    node?: unknown;
  };
  const partOf = new Map<string, string>();
  if (report.split.folds) report.split.folds.forEach((f, k) => f.forEach((p) => partOf.set(p, `fold-${k}`)));
  for (const part of ['train', 'val', 'test'] as const)
    for (const p of (report.split as Record<string, string[] | undefined>)[part] ?? []) partOf.set(p, part);
  writeFileSync(
    join(work, 'split.csv'),
    'study_instance_uid,part\n' +
      captured.map((c) => `${c.study.studyInstanceUid},${partOf.get(c.patient) ?? ''}`).join('\n') +
      '\n',
  );

  // the node itself on the held-out patients, before (the given models) and after (the new folder)
  if (settings.split) {
    const test = new Set(report.split.test ?? []);
    const held = captured.filter((c) => test.has(c.patient));
    const after = await AnalysisEngine.open({
      modelsDir: o.out,
      providers: ['cpu'],
      intraOpThreads: intraOpThreads ?? null,
    });
    const before: Array<{ truth: AxialClass; found: Diagnosis }> = [];
    const now: Array<{ truth: AxialClass; found: Diagnosis }> = [];
    try {
      for (const c of held) {
        const { result: r } = await after.study(c.study.dir);
        for (const l of c.labels) {
          if (!REPORT_LEVELS.includes(l.level)) continue;
          const f = r.levels.find((x) => x.level === l.level);
          before.push({ truth: l.diagnosis, found: c.diagnoses[l.level] ?? 'indeterminate' });
          now.push({ truth: l.diagnosis, found: f?.diagnosis ?? 'indeterminate' });
        }
      }
    } finally {
      await after.close();
    }
    const node = { studies: held.length, before: diagnosisFigures(before), after: diagnosisFigures(now) };
    report.node = node;
    writeFileSync(reportFile, JSON.stringify(report, null, 2) + '\n');
    say(
      `the node's diagnoses on the ${held.length} held-out studies (${node.before.n} levels of ${REPORT_LEVELS.join(', ')}):`,
    );
    for (const [k, name] of [
      ['accuracy', 'accuracy'],
      ['balancedAccuracy', 'balanced accuracy'],
      ['herniationSensitivity', 'herniation sensitivity'],
      ['herniationSpecificity', 'herniation specificity'],
    ] as const)
      say(`  ${name}: before ${fmt(node.before[k])}, after ${fmt(node.after[k])}`);
  } else
    say("with --folds the node's own before-and-after run is left out: the figures above pool every fold");
  say(`wrote ${o.out} (LUMBAR_MODELS_DIR=${o.out} points the node at it) and ${reportFile}`);
  return { report: reportFile };
}

export function finetuneCommand(): Command {
  return new Command('finetune')
    .description(
      "fine-tune the axial classifier and the sagittal grader on a site's labelled studies; writes a new models folder",
    )
    .requiredOption('--studies <dir>', 'one sub-folder of DICOM files per study')
    .requiredOption(
      '--labels <file>',
      'labels.csv: study_instance_uid, level, diagnosis[, herniation, bulging, narrowing, pfirrmann, patient_id]',
    )
    .requiredOption('--out <dir>', 'the new models folder (must not exist or be empty)')
    .option('--split <a:b:c>', 'train:validation:test percentages of the patients (default 80:10:10)')
    .option('--folds <k>', 'k-fold cross-validation by patient instead of one split (k from 3 to 20)')
    .option('--seed <n>', 'seed of the split and the training (default 0)')
    .option('--epochs <n>', 'training epochs (default 15)')
    .option('--models <dir>', 'models to start from (default: LUMBAR_MODELS_DIR, else the shipped models/)')
    .option('--threads <n>', 'ONNX Runtime intra-op threads while the node cuts the crops')
    .option('--python <path>', 'the Python of the training code (default training/.venv/bin/python)')
    .action(async (o: FinetuneCliOptions) => {
      await runFinetune(o);
    });
}
