import { existsSync, statSync } from 'node:fs';
import { Command } from 'commander';
import { ALGORITHM, InputError } from '@lumbar/core';
import { readSeriesRules } from '@lumbar/dicom';
import { join } from 'node:path';
import { AnalysisEngine, analysisSettingsFromFlags, gradingLine } from '@lumbar/analysis';

export interface AnalyzeCliOptions {
  out: string;
  models?: string;
  rules?: string;
  providers?: string;
  threads?: string;
}

/** `lumbar analyze`: the engine, once, on one study folder. Errors are AnalysisErrors (a code and a sentence). */
export async function runAnalyze(
  studyDir: string,
  o: AnalyzeCliOptions,
  env = process.env,
): Promise<{ summary: string; file: string; grading: string }> {
  if (!existsSync(studyDir) || !statSync(studyDir).isDirectory()) {
    throw new InputError(`${studyDir}: no such folder (not found)`);
  }
  const settings = analysisSettingsFromFlags(o, env);
  const rules = o.rules ? readSeriesRules(o.rules) : undefined;
  const engine = await AnalysisEngine.open(settings);
  try {
    const { findings } = await engine.analyze({ study: studyDir, outDir: o.out, rules });
    return { summary: findings.summary, file: join(o.out, 'findings.json'), grading: gradingLine(findings) };
  } finally {
    await engine.close();
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
    .option('--models <dir>', 'models folder (default: the shipped models/, or LUMBAR_MODELS_DIR)')
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
