import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { ALGORITHM, InputError, parseExecutionProviders, parseIntraOpThreads } from '@lumbar/core';
import { readSeriesRules } from '@lumbar/dicom';
import { initImaging } from '@lumbar/imaging';
import { closeModelSet, openModelSet } from '@lumbar/inference';
import { analyzeStudy, type AnalysisResult } from '@lumbar/pipeline';
import { buildDicomOutputs, dicomOutputsDocument, type DicomOutput } from '../dicom-outputs';
import { renderKeyImage } from '../overlay';
import { loadStudyInput, readSourceImages } from '../study-input';

/** The shipped models: `models/` at the root of the repository, unless --models or LUMBAR_MODELS_DIR says otherwise. */
export const DEFAULT_MODELS_DIR = resolve(__dirname, '..', '..', '..', '..', 'models');

export interface AnalyzeCliOptions {
  out: string;
  models?: string;
  rules?: string;
  providers?: string;
  threads?: string;
}

/** findings.json: what a RIS or a person reads. Pixel data (masks, key images) stays out of it. */
export function findingsDocument(
  r: AnalysisResult,
  series: { sagittal: string | null; axial: string | null },
  extraWarnings: string[],
  dicom: readonly DicomOutput[] = [],
) {
  return {
    studyInstanceUid: r.studyInstanceUid,
    levels: r.levels,
    summary: r.summary,
    algorithm: { name: ALGORITHM.name, version: ALGORITHM.version, models: r.models },
    disclaimer: ALGORITHM.disclaimer,
    series,
    discs: r.discs,
    sagittalProbabilities: r.sagittalProbabilities,
    gradings: r.gradings,
    keyImages: r.keyImages.map((k, i) => ({
      file: `key-images/${i + 1}.png`,
      title: k.title,
      sopInstanceUid: k.sopInstanceUid,
    })),
    dicom: dicomOutputsDocument(dicom),
    warnings: [...extraWarnings, ...r.warnings],
    timingsMs: r.timingsMs,
  };
}

/**
 * One line on the sagittal grader's findings per disc, from L5-S1 up ("" without the grader):
 * "sagittal grading (sag-grading 1.0.0): L5-S1 Pfirrmann 4, herniation, narrowing; L4-L5 Pfirrmann 3".
 */
export function gradingLine(r: Pick<AnalysisResult, 'gradings'>): string {
  if (r.gradings.length === 0) return '';
  const { name, version } = r.gradings[0].model;
  const discs = r.gradings.map((g) => {
    const flags = (['herniation', 'bulging', 'narrowing'] as const).filter((k) => g.flags[k]);
    return [`${g.level} Pfirrmann ${g.pfirrmann.grade}`, ...flags].join(', ');
  });
  return `sagittal grading (${name} ${version}): ${discs.join('; ')}`;
}

export async function runAnalyze(
  studyDir: string,
  o: AnalyzeCliOptions,
  env = process.env,
): Promise<{ summary: string; file: string; grading: string }> {
  if (!existsSync(studyDir) || !statSync(studyDir).isDirectory()) {
    throw new InputError(`${studyDir}: no such folder (not found)`);
  }
  const t0 = performance.now();
  const providers = parseExecutionProviders(
    o.providers ?? env.LUMBAR_EXECUTION_PROVIDERS,
    '--providers / LUMBAR_EXECUTION_PROVIDERS',
  );
  const modelsDir = o.models ?? env.LUMBAR_MODELS_DIR ?? DEFAULT_MODELS_DIR;
  const intraOpThreads = parseIntraOpThreads(
    o.threads ?? env.LUMBAR_INTRA_OP_THREADS,
    '--threads / LUMBAR_INTRA_OP_THREADS',
  );
  const rules = o.rules ? readSeriesRules(o.rules) : undefined;
  const [models, loaded] = await Promise.all([
    openModelSet(modelsDir, { providers, intraOpThreads }),
    loadStudyInput(studyDir, rules),
    initImaging(),
  ]);
  const t1 = performance.now();
  try {
    const result = await analyzeStudy(loaded.input, models);
    mkdirSync(join(o.out, 'key-images'), { recursive: true });
    result.keyImages.forEach((k, i) =>
      writeFileSync(join(o.out, 'key-images', `${i + 1}.png`), renderKeyImage(k)),
    );
    const sources = await readSourceImages(loaded.sourceFiles);
    const dicom = buildDicomOutputs(result, sources, { createdAt: new Date() });
    for (const d of dicom.outputs) writeFileSync(join(o.out, d.file), d.bytes);
    const doc = findingsDocument(
      result,
      loaded.series,
      [...loaded.warnings, ...dicom.warnings],
      dicom.outputs,
    );
    doc.timingsMs = {
      ...doc.timingsMs,
      loadModelsAndStudy: Math.round(t1 - t0),
      wall: Math.round(performance.now() - t0),
    };
    const file = join(o.out, 'findings.json');
    writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
    return { summary: result.summary, file, grading: gradingLine(result) };
  } finally {
    await closeModelSet(models);
  }
}

export function analyzeCommand(): Command {
  return new Command('analyze')
    .description(
      'diagnose a lumbar MR study folder: findings.json, key images and DICOM SEG, SR and secondary ' +
        'captures (not for primary diagnosis)',
    )
    .argument('<study-dir>', 'folder holding the DICOM files of one study')
    .requiredOption('--out <dir>', 'where findings.json, key-images/ and the DICOM objects are written')
    .option('--models <dir>', 'models folder (default: the shipped models/)')
    .option('--rules <file>', 'series selection rules (JSON) overriding the defaults')
    .option(
      '--providers <list>',
      'ONNX Runtime execution providers by preference, e.g. cuda,cpu (default cpu)',
    )
    .option(
      '--threads <n>',
      'ONNX Runtime intra-op threads (default: the cores, at most 4; or LUMBAR_INTRA_OP_THREADS)',
    )
    .action(async (studyDir: string, opts: AnalyzeCliOptions) => {
      if (!studyDir) throw new InputError('give the study folder');
      const { summary, file, grading } = await runAnalyze(studyDir, opts);
      process.stdout.write(
        `${summary}\n${grading ? `${grading}\n` : ''}wrote ${file}\n${ALGORITHM.disclaimer}\n`,
      );
    });
}
