// `lumbar finetune` end to end with the shipped models: a phantom "site" whose contrast differs from the training
// phantom's (another gamma and noise: test/python/shift_contrast.py) hurts the shipped axial classifier; fine-tuning
// on the site's labelled studies recovers part of it on its held-out patients, and the new models folder works with
// LUMBAR_MODELS_DIR. Also: the pipeline's captured classifier inputs are the exact tensors it classified, and bad
// inputs get a sentence and exit 2.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { initImaging } from '@lumbar/imaging';
import { closeModelSet, openModelSet, type ModelSet } from '@lumbar/inference';
import { analyzeStudy } from '@lumbar/pipeline';
import { loadStudyInput } from '@lumbar/analysis';
import { makeTmpDir, removeDir } from '../helpers/files';
import { cliMain, generatePhantom, studyDirs } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { repoRoot } from '../helpers/shared';

const PYTHON = path.join(repoRoot, 'training', '.venv', 'bin', 'python');
const lumbar = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  runTool(process.execPath, [cliMain, ...args], { cwd: repoRoot, timeoutMs: 480_000, env });

interface Truth {
  studies: Array<{
    dir: string;
    studyInstanceUid: string;
    patientId: string;
    levels: Record<string, string>;
  }>;
}

interface Figures {
  n_levels?: number;
  n?: number;
  accuracy: number;
  balanced_accuracy?: number;
  balancedAccuracy?: number;
}

/** labels.csv of a phantom folder, from its truth.json (one row per study and level). */
function writeLabels(truth: Truth, file: string, extra: string[] = []): void {
  const rows = truth.studies.flatMap((s) =>
    Object.entries(s.levels).map(([level, dx]) => `${s.studyInstanceUid},${level},${dx},${s.patientId}`),
  );
  writeFileSync(file, ['study_instance_uid,level,diagnosis,patient_id', ...rows, ...extra].join('\n') + '\n');
}

describe('lumbar finetune', () => {
  let tmp: string;
  let site: string;
  let truth: Truth;
  beforeAll(async () => {
    tmp = makeTmpDir('finetune');
    site = path.join(tmp, 'site');
    await generatePhantom(site, 1515, 12);
    truth = JSON.parse(readFileSync(path.join(site, 'truth.json'), 'utf8')) as Truth;
    // another site's contrast: gamma 2 on the stored values, x3, noise of 3 % of the largest value
    const shift = await runTool(
      PYTHON,
      ['test/python/shift_contrast.py', site, '--gamma', '2', '--noise', '0.03'],
      {
        cwd: repoRoot,
        timeoutMs: 120_000,
      },
    );
    expect(shift.stderr).toBe('');
    expect(shift.stdout).toMatch(/^shifted the contrast of \d+ DICOM files/);
    writeLabels(truth, path.join(tmp, 'labels.csv'));
  }, 300_000);
  afterAll(() => removeDir(tmp));

  it('improves the held-out figure of a site whose contrast differs, and writes a complete models folder', async () => {
    const out = path.join(tmp, 'models-site');
    const args = ['finetune', '--studies', site, '--labels', path.join(tmp, 'labels.csv'), '--out', out];
    const run = await lumbar([...args, '--split', '50:25:25', '--epochs', '8', '--seed', '0']);
    expect(run.stderr).not.toMatch(/Traceback|Error|lumbar:/);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /captured \d+ axial crop\(s\) and \d+ graded disc\(s\) of 12 studies \(12 patients\)/,
    );
    expect(run.stdout).toMatch(/held-out figures \(3 patients, 3 studies/);

    const report = JSON.parse(readFileSync(path.join(out, 'finetune-report.json'), 'utf8')) as {
      site: { studies: number; patients: number };
      split: { train: string[]; val: string[]; test: string[] };
      models: Record<string, { base: string; new: string; kept?: string }>;
      held_out: { axial_levels: { before: Figures; after: Figures } };
      node: { studies: number; before: Figures; after: Figures };
    };
    expect(report.site).toMatchObject({ studies: 12, patients: 12 });
    expect(report.split.test).toHaveLength(3);
    // the held-out figure: the axial classifier per level (the pipeline's rule), and the node's own diagnoses
    const ax = report.held_out.axial_levels;
    const node = report.node;
    process.stdout.write(
      `finetune on a contrast-shifted phantom site, ${ax.before.n_levels} held-out levels of ${node.studies} patients:\n` +
        `  axial per level: accuracy ${ax.before.accuracy.toFixed(3)} -> ${ax.after.accuracy.toFixed(3)} ` +
        `(+${(ax.after.accuracy - ax.before.accuracy).toFixed(3)}), balanced ${ax.before.balanced_accuracy!.toFixed(3)} -> ${ax.after.balanced_accuracy!.toFixed(3)}\n` +
        `  the node's diagnoses: accuracy ${node.before.accuracy.toFixed(3)} -> ${node.after.accuracy.toFixed(3)} ` +
        `(+${(node.after.accuracy - node.before.accuracy).toFixed(3)})\n`,
    );
    expect(ax.before.n_levels).toBe(6);
    expect(ax.after.accuracy).toBeGreaterThan(ax.before.accuracy);
    expect(node.studies).toBe(3);
    expect(node.after.n).toBe(6);
    expect(node.after.accuracy).toBeGreaterThan(node.before.accuracy);
    expect(run.stdout).toContain(
      `  accuracy: before ${node.before.accuracy.toFixed(3)}, after ${node.after.accuracy.toFixed(3)}`,
    );

    // a complete models folder: every shipped model, the axial classifier new, with a card naming the site data
    for (const name of readdirSync(path.join(repoRoot, 'models')))
      expect(existsSync(path.join(out, name))).toBe(true);
    const card = JSON.parse(readFileSync(path.join(out, 'ax-cls-discnet', 'model.json'), 'utf8'));
    const base = JSON.parse(
      readFileSync(path.join(repoRoot, 'models', 'ax-cls-discnet', 'model.json'), 'utf8'),
    );
    expect(report.models['ax-cls-discnet']).toEqual({ base: base.version, new: card.version });
    expect(card.version).toMatch(new RegExp(`^${base.version.replace(/\./g, '\\.')}\\+site\\.\\d{8}$`));
    expect(card.base_model).toMatchObject({ name: 'ax-cls-discnet', version: base.version });
    expect(card.training_data.at(-1).what).toBe(
      'fine-tuned at a site on 12 studies / 12 patients (site data, no identifiers)',
    );
    expect(card.metrics.axial_levels).toEqual(ax);
    // no identifier leaves the site in the models or the report: no study UID, no patient ID
    const shared = [
      ...readdirSync(out)
        .filter((d) => d !== 'work')
        .flatMap((d) =>
          existsSync(path.join(out, d, 'model.json')) ? [path.join(out, d, 'model.json')] : [],
        ),
      path.join(out, 'finetune-report.json'),
    ]
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    for (const s of truth.studies) {
      expect(shared).not.toContain(s.studyInstanceUid);
      expect(shared).not.toContain(s.patientId);
    }
    // the site keeps which study went where (work/split.csv), for a later validation on held-out studies only
    const split = readFileSync(path.join(out, 'work', 'split.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(split[0]).toBe('study_instance_uid,part');
    expect(split.slice(1).filter((l) => l.endsWith(',test'))).toHaveLength(3);

    // LUMBAR_MODELS_DIR points the node at the new folder; nothing else changes
    const heldUid = split.find((l) => l.endsWith(',test'))!.split(',')[0];
    const study = truth.studies.find((s) => s.studyInstanceUid === heldUid)!;
    const outA = path.join(tmp, 'analyze');
    const a = await lumbar(['analyze', path.join(site, study.dir), '--out', outA], {
      ...process.env,
      LUMBAR_MODELS_DIR: out,
    });
    expect(a.code).toBe(0);
    const findings = JSON.parse(readFileSync(path.join(outA, 'findings.json'), 'utf8'));
    expect(findings.algorithm.models.axialCls).toEqual({ name: 'ax-cls-discnet', version: card.version });
    expect(findings.levels.map((l: { level: string }) => l.level)).toEqual(['L4-L5', 'L5-S1']);
  }, 600_000);

  it('captures the exact tensors the classifiers were fed, and changes nothing else', async () => {
    let models: ModelSet | undefined;
    try {
      [models] = await Promise.all([
        openModelSet(path.join(repoRoot, 'models'), { intraOpThreads: 1 }),
        initImaging(),
      ]);
      const { input } = await loadStudyInput(studyDirs(site)[0]);
      const plain = await analyzeStudy(input, models, { clock: () => 0 });
      const { classifierInputs, ...rest } = await analyzeStudy(input, models, {
        clock: () => 0,
        captureInputs: true,
      });
      expect(plain.classifierInputs).toBeUndefined();
      expect(rest).toEqual(plain);
      const ax = classifierInputs!.axial;
      const evidence = plain.levels.flatMap((l) => l.evidence.axial);
      expect(ax.map((a) => [a.sopInstanceUid, a.level, a.discAreaMm2])).toEqual(
        plain.levels.flatMap((l) => l.evidence.axial.map((e) => [e.sopInstanceUid, l.level, e.discAreaMm2])),
      );
      expect(ax.length).toBeGreaterThan(0);
      // the axial classifier on the captured tensors gives the probabilities the evidence holds
      for (const a of ax) {
        expect(a.shape).toEqual([3, 64, 64]);
        const out = await models.axialCls.run(a.tensor, 1);
        const e = evidence.find((x) => x.sopInstanceUid === a.sopInstanceUid)!;
        const classes = models.axialCls.card.output.classes;
        for (const [i, c] of classes.entries())
          expect(out.data[i]).toBeCloseTo(e.probabilities[c as keyof typeof e.probabilities], 5);
      }
      // the grader on the captured discs gives the gradings
      const g = classifierInputs!.grading;
      expect(g.map((x) => [x.level, x.fromBottom])).toEqual(
        plain.gradings.map((x) => [x.level, x.fromBottom]),
      );
      for (const [k, x] of g.entries()) {
        const out = await models.sagittalGrading!.run(x.tensor, 1);
        const h = models.sagittalGrading!.card.output.classes.indexOf('herniation');
        expect(out.data[h]).toBeCloseTo(plain.gradings[k].herniation, 5);
      }
    } finally {
      if (models) await closeModelSet(models);
    }
  }, 120_000);

  it('exits 2 with a sentence for an empty folder, a CSV naming an unknown study, an unknown class', async () => {
    const labels = path.join(tmp, 'labels.csv');
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    const unknownStudy = path.join(tmp, 'unknown-study.csv');
    writeLabels(truth, unknownStudy, ['1.2.3.4.5,L4-L5,healthy,']);
    const unknownClass = path.join(tmp, 'unknown-class.csv');
    writeFileSync(
      unknownClass,
      `study_instance_uid,level,diagnosis\n${truth.studies[0].studyInstanceUid},L4-L5,herniated\n`,
    );
    const cases: Array<[string[], RegExp]> = [
      [
        ['--studies', empty, '--labels', labels],
        /empty folder: expected one sub-folder of DICOM files per study/,
      ],
      [
        ['--studies', site, '--labels', unknownStudy],
        /:\d+: study 1\.2\.3\.4\.5 is not in the studies folder/,
      ],
      [
        ['--studies', site, '--labels', unknownClass],
        /:2: unknown class "herniated" in diagnosis \(expected one of/,
      ],
      [
        ['--studies', site, '--labels', labels, '--split', '80:10'],
        /--split: "80:10" is not train:validation:test/,
      ],
      [
        ['--studies', site, '--labels', labels, '--folds', '13'],
        /12 patient\(s\); 13-fold cross-validation needs at least 13/,
      ],
    ];
    for (const [args, why] of cases) {
      const out = path.join(tmp, 'never');
      const run = await lumbar(['finetune', ...args, '--out', out]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(why);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
    }
  }, 120_000);
});
