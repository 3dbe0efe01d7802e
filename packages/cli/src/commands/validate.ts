import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { ALGORITHM, InputError, LumbarError } from '@lumbar/core';
import { readSeriesRules } from '@lumbar/dicom';
import {
  AnalysisEngine,
  analysisSettingsFromFlags,
  findingsDocument,
  renderKeyImage,
} from '@lumbar/analysis';
import { REPORT_LEVELS } from '@lumbar/pipeline';
import {
  findSiteStudies,
  matchSiteLabels,
  readSiteLabels,
  studiesWithoutLabels,
  type SiteLabel,
  type SiteStudy,
} from '../site/labels';
import { buildSiteReport, type ScopeFigures, type SiteReport, type StudyOutcome } from '../site/report';
import { renderReportHtml, fmt, fmtProportion } from '../site/report-html';
import { renderPlot, scopePlotSpecs } from '../site/plots';

// `lumbar validate`: a site measures the node on its own studies against its own labels
// (docs/SITE-VALIDATION.md). Models load once; every study runs through the same pipeline as `analyze`.

export interface ValidateCliOptions {
  studies: string;
  labels: string;
  out: string;
  models?: string;
  rules?: string;
  providers?: string;
  threads?: string;
  site?: string;
}

/** A progress bar on stderr: one `\r` line on a terminal, one line per study otherwise. */
export function progressReporter(stream: NodeJS.WriteStream | NodeJS.WritableStream, total: number) {
  const tty = 'isTTY' in stream && stream.isTTY === true;
  const t0 = performance.now();
  return {
    step(done: number, name: string, note = ''): void {
      const secs = (performance.now() - t0) / 1000;
      if (tty) {
        // a failure keeps a line of its own above the bar
        if (note) stream.write(`\r\u001b[Kvalidate: ${name} ${note}\n`);
        const width = 30;
        const full = Math.round((done / total) * width);
        const eta = done > 0 && done < total ? ` eta ${Math.round((secs / done) * (total - done))} s` : '';
        stream.write(
          `\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${done}/${total} ${name}${eta}\u001b[K` +
            (done === total ? '\n' : ''),
        );
      } else {
        stream.write(`validate: ${done}/${total} ${name}${note ? ` (${note})` : ''} ${secs.toFixed(1)} s\n`);
      }
    },
  };
}

/** A study's name in the report and in file names: its folder name, in safe characters. */
export const studyName = (s: SiteStudy): string => path.basename(s.dir).replace(/[^A-Za-z0-9._-]/g, '_');

/** One line per scope, as stdout shows it. */
export function scopeLine(s: ScopeFigures): string {
  const h = s.herniation;
  return (
    `${s.scope}: ${s.levels} levels, ${s.determinate} determinate; herniation sensitivity ` +
    `${fmtProportion(h.sensitivity)}, specificity ${fmtProportion(h.specificity)}, PPV ${fmtProportion(h.ppv)}, ` +
    `NPV ${fmtProportion(h.npv)}, AUC ${fmt(s.roc.auc)}; side accuracy ${fmtProportion(s.side)}; ` +
    `indeterminate ${s.indeterminate.rate.k}/${s.indeterminate.rate.n}`
  );
}

/** Runs the pipeline on every labelled study and writes the report; returns it with the stdout summary. */
export async function runValidate(
  o: ValidateCliOptions,
  env: NodeJS.ProcessEnv = process.env,
  progress: NodeJS.WritableStream = process.stderr,
): Promise<{ report: SiteReport; summary: string; index: string }> {
  // inputs first, so that a bad row is reported before any model loads
  const labels: SiteLabel[] = readSiteLabels(o.labels);
  const studies = findSiteStudies(o.studies);
  const matched = matchSiteLabels(labels, studies);
  const unlabelled = studiesWithoutLabels(labels, studies).map(studyName);
  const out = path.resolve(o.out);
  const studiesRoot = path.resolve(o.studies);
  if (out === studiesRoot || out.startsWith(studiesRoot + path.sep)) {
    throw new InputError(
      `--out ${o.out}: the report folder must not be inside the studies folder ${o.studies}`,
    );
  }
  const settings = analysisSettingsFromFlags(o, env);
  const rules = o.rules ? readSeriesRules(o.rules) : undefined;

  mkdirSync(out, { recursive: true });
  // a previous report in the same folder: its generated parts go, so nothing stale is linked
  if (existsSync(path.join(out, 'report.json'))) {
    for (const d of ['plots', 'studies']) rmSync(path.join(out, d), { recursive: true, force: true });
  }
  mkdirSync(path.join(out, 'plots'), { recursive: true });

  const engine = await AnalysisEngine.open(settings);
  const outcomes: StudyOutcome[] = [];
  try {
    const bar = progressReporter(progress, matched.length);
    for (const [i, m] of matched.entries()) {
      const name = studyName(m.study);
      const rel = `studies/${name}`;
      const base = {
        study: name,
        dir: m.study.dir,
        studyInstanceUid: m.study.studyInstanceUid,
        labels: m.labels,
      };
      try {
        const { loaded, result } = await engine.study(m.study.dir, { rules });
        mkdirSync(path.join(out, rel, 'key-images'), { recursive: true });
        const keyImages = result.keyImages.map((k, j) => {
          const file = `${rel}/key-images/${j + 1}.png`;
          writeFileSync(path.join(out, file), renderKeyImage(k));
          return file;
        });
        const doc = findingsDocument(result, loaded.series, loaded.warnings);
        writeFileSync(path.join(out, rel, 'findings.json'), JSON.stringify(doc, null, 2) + '\n');
        outcomes.push({
          ...base,
          result,
          error: null,
          keyImages,
          findings: `${rel}/findings.json`,
          warnings: [...loaded.warnings, ...result.warnings],
        });
        bar.step(i + 1, name);
      } catch (err) {
        // a study the pipeline cannot read is a finding of the site measurement, not a reason to stop
        if (!(err instanceof LumbarError) || err.code === 'INTERNAL') throw err;
        outcomes.push({
          ...base,
          result: null,
          error: err.message,
          keyImages: [],
          findings: null,
          warnings: [],
        });
        bar.step(i + 1, name, `failed: ${err.message}`);
      }
    }
  } finally {
    await engine.close();
  }

  const report = buildSiteReport(outcomes, {
    site: o.site ?? null,
    date: new Date(),
    algorithm: { name: ALGORITHM.name, version: ALGORITHM.version },
    disclaimer: ALGORITHM.disclaimer,
    studiesDir: studiesRoot,
    labelsFile: path.resolve(o.labels),
    models: engine.modelVersions(),
    unlabelled,
    reportLevels: REPORT_LEVELS,
  });
  for (const s of report.scopes) {
    const specs = scopePlotSpecs(s);
    for (const k of ['roc', 'pr', 'calibration'] as const)
      writeFileSync(path.join(out, s.plots[k]), renderPlot(specs[k]));
  }
  writeFileSync(path.join(out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  const index = path.join(out, 'index.html');
  writeFileSync(index, renderReportHtml(report));

  const lines = [
    `${ALGORITHM.name} ${ALGORITHM.version} site validation: ${report.studies.n} studies ` +
      `(${report.studies.failed} failed), ${report.labels.scored} labelled levels scored` +
      (report.labels.outsideScope
        ? `, ${report.labels.outsideScope} outside the levels the pipeline reports`
        : ''),
    ...report.scopes.map(scopeLine),
    `${report.cases.length} wrong or indeterminate level(s) listed with their key images`,
    ...report.warnings.map((w) => `warning: ${w}`),
    `wrote ${index} and ${path.join(out, 'report.json')}`,
    'A site measurement, not a regulatory clearance. ' + ALGORITHM.disclaimer,
  ];
  return { report, summary: lines.join('\n') + '\n', index };
}

export function validateCommand(): Command {
  return new Command('validate')
    .description(
      'measure the node on a site\u2019s own studies against its labels.csv: an HTML report with ' +
        'confusion matrices, sensitivity/specificity/PPV/NPV, ROC, PR and calibration (a site measurement, ' +
        'not a clearance)',
    )
    .requiredOption('--studies <dir>', 'folder with one sub-folder of DICOM files per study')
    .requiredOption(
      '--labels <file>',
      'labels.csv: study_instance_uid,level,diagnosis[,herniation,bulging,narrowing,pfirrmann,patient_id]',
    )
    .requiredOption('--out <dir>', 'report folder: index.html, report.json, plots/, studies/')
    .option('--site <name>', 'the site named in the report')
    .option('--models <dir>', 'models folder (default: the shipped models/)')
    .option('--rules <file>', 'series selection rules (JSON) overriding the defaults')
    .option(
      '--providers <list>',
      'ONNX Runtime execution providers by preference, e.g. cuda,cpu (default cpu)',
    )
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: the cores, at most 4)')
    .action(async (opts: ValidateCliOptions) => {
      const { summary } = await runValidate(opts);
      process.stdout.write(summary);
    });
}
