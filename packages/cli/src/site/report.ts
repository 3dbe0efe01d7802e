import { AXIAL_CLASSES, type AxialClass, type DiscLevel } from '@lumbar/core';
import { REPORT_LEVELS, type AnalysisResult, type Diagnosis, type LevelFinding } from '@lumbar/pipeline';
import {
  binaryFigures,
  calibration,
  confusionMatrix,
  precisionRecall,
  roc,
  wilson,
  type BinaryFigures,
  type Calibration,
  type ConfusionMatrix,
  type PrCurve,
  type Proportion,
  type Roc,
} from './report-metrics';
import type { SiteLabel } from './labels';

// The site validation report as data: what `lumbar validate` writes to report.json, and what the HTML page
// and the plots show. Built from the labels and the pipeline's findings, without I/O.

export const HERNIATED: readonly AxialClass[] = ['central', 'left', 'right'];
export const PREDICTED_COLUMNS = [...AXIAL_CLASSES, 'indeterminate'] as const;

export const SITE_STATEMENT =
  'This is a site measurement of the algorithm on this site\u2019s own studies and labels. It is not a ' +
  'regulatory clearance, not a certification and not a clinical trial; the algorithm is not for primary ' +
  'diagnosis.';

export const DEFINITIONS = {
  herniationTruth:
    'A level is herniated in the truth when its diagnosis in labels.csv is central, left or right; the ' +
    'optional herniation column is scored against the sagittal grader instead (section "Sagittal grading").',
  herniationCall: 'The pipeline calls a level herniated when its diagnosis is central, left or right.',
  herniationProbability:
    'P(herniation) of a level = P(central) + P(left) + P(right) of the fused per-level probabilities in ' +
    'findings.json: the weighted mean of the sagittal and the axial herniation probabilities ' +
    '(packages/pipeline/src/fuse.ts).',
  indeterminate:
    'An indeterminate level has no diagnosis (low confidence, a missing view, an image unlike the training ' +
    'data, a study that could not be read). Indeterminate levels are left out of the confusion-based ' +
    'figures, the curves and the calibration, and counted with their reasons.',
  confusion:
    'Rows: the diagnosis in labels.csv; columns: the pipeline\u2019s diagnosis, indeterminate included.',
  sensitivity: 'Sensitivity = TP / (TP + FN): herniated levels called herniated.',
  specificity: 'Specificity = TN / (TN + FP): levels without herniation not called herniated.',
  ppv: 'PPV = TP / (TP + FP): herniation calls that are right.',
  npv: 'NPV = TN / (TN + FN): calls of no herniation that are right.',
  intentionToDiagnose:
    'Intention to diagnose: sensitivity and specificity over every labelled level, an indeterminate level counted against the pipeline (a miss when herniated, a false alarm when not).',
  wilson:
    'Proportions carry Wilson score 95% intervals (z = 1.96); an AUC carries the Hanley-McNeil 95% interval.',
  roc: 'ROC: sensitivity against 1 - specificity as the threshold on P(herniation) moves; AUC by trapezoids (ties count one half).',
  pr: 'PR: precision (PPV) against recall (sensitivity) over the same thresholds; average precision = sum of recall steps times precision.',
  calibration:
    'Calibration: the determinate levels in ten bins of P(herniation); per bin the mean P(herniation) against the fraction herniated (Wilson interval). Brier score = mean (P - truth)^2; ECE = n-weighted mean |observed - predicted|.',
  side: 'Side accuracy: among correctly detected herniations whose true type is left or right, the fraction the pipeline gave the same side (central counts as wrong). Type agreement: among all correctly detected herniations, the fraction with the same type (central, left, right).',
  scope:
    'The pipeline reports the levels L4-L5 and L5-S1; labels of other levels are counted but not scored by these figures (the sagittal grader, when installed, grades every disc it finds).',
};

/** One labelled level as the pipeline saw it. */
export interface LevelOutcome {
  /** The study's name in the report (its folder name). */
  study: string;
  studyInstanceUid: string;
  level: DiscLevel;
  /** The CSV line of its label. */
  line: number;
  truth: AxialClass;
  predicted: Diagnosis;
  /** P(central) + P(left) + P(right); null when the study could not be analysed. */
  pHerniation: number | null;
  reason: string | null;
  /** The key image to look at, relative to the report folder; null when there is none. */
  keyImage: string | null;
}

/** One labelled disc with sagittal-grading columns, against the sagittal grader. */
export interface GradingOutcome {
  study: string;
  level: DiscLevel;
  line: number;
  truth: { herniation?: 0 | 1; bulging?: 0 | 1; narrowing?: 0 | 1; pfirrmann?: number };
  /** The grader's output for the disc; null when the disc was not graded (not found, no grader, failure). */
  predicted: {
    herniation: number;
    bulging: number;
    narrowing: number;
    flags: { herniation: boolean; bulging: boolean; narrowing: boolean };
    pfirrmann: number;
  } | null;
}

/** What one study gave: the pipeline's result, or the sentence of why it failed. */
export interface StudyOutcome {
  study: string;
  dir: string;
  studyInstanceUid: string;
  labels: SiteLabel[];
  result: Pick<AnalysisResult, 'levels' | 'gradings' | 'keyImages' | 'models' | 'warnings'> | null;
  error: string | null;
  /** Relative paths of its key images (1-based order of result.keyImages) and of its findings.json. */
  keyImages: string[];
  findings: string | null;
  warnings: string[];
}

export interface ScopeFigures {
  scope: string;
  levels: number;
  determinate: number;
  confusion: ConfusionMatrix;
  /** Exact diagnosis among determinate levels. */
  accuracy: Proportion;
  herniation: BinaryFigures;
  /**
   * Intention to diagnose: every level, an indeterminate one counted against the pipeline (a miss when the
   * level is herniated, a false alarm when it is not).
   */
  intentionToDiagnose: { sensitivity: Proportion; specificity: Proportion };
  roc: Roc;
  pr: PrCurve;
  calibration: Calibration;
  side: Proportion;
  type: Proportion;
  indeterminate: { rate: Proportion; reasons: Array<{ reason: string; n: number }> };
  plots: { roc: string; pr: string; calibration: string };
}

export interface FlagFigures {
  n: number;
  positives: number;
  roc: Roc;
  /** At the grader's own threshold (its flag). */
  atThreshold: BinaryFigures;
}

export interface GradingFigures {
  labelled: number;
  graded: number;
  herniation: FlagFigures | null;
  bulging: FlagFigures | null;
  narrowing: FlagFigures | null;
  pfirrmann: { n: number; exact: Proportion; withinOne: Proportion; confusion: ConfusionMatrix } | null;
}

/** A wrong or indeterminate level, listed with its key image. */
export interface CaseRow extends LevelOutcome {
  kind: 'wrong' | 'indeterminate';
}

export interface SiteReport {
  kind: 'lumbar-ai site validation report';
  statement: string;
  site: string | null;
  date: string;
  algorithm: { name: string; version: string };
  models: Record<string, { name: string; version: string }>;
  disclaimer: string;
  inputs: { studiesDir: string; labels: string };
  studies: {
    n: number;
    analysed: number;
    failed: number;
    /** Study folders without any label: not analysed. */
    unlabelled: string[];
  };
  labels: { rows: number; scored: number; outsideScope: number };
  herniationTruth: 'diagnosis';
  definitions: typeof DEFINITIONS;
  scopes: ScopeFigures[];
  grading: GradingFigures | null;
  cases: CaseRow[];
  perStudy: Array<{
    study: string;
    studyInstanceUid: string;
    dir: string;
    labelledLevels: number;
    findings: string | null;
    keyImages: string[];
    error: string | null;
    warnings: string[];
  }>;
  warnings: string[];
}

export const pHerniationOf = (probabilities: Record<AxialClass, number>): number =>
  HERNIATED.reduce((s, k) => s + (probabilities[k] ?? 0), 0);

/** The key image of a level: its axial key image, else the mid-sagittal one. */
function keyImageOf(o: StudyOutcome, level: DiscLevel): string | null {
  if (!o.result) return null;
  const titles = o.result.keyImages.map((k) => k.title);
  let i = titles.indexOf(`axial T2 through ${level}`);
  if (i < 0) i = titles.findIndex((t) => t.startsWith('mid-sagittal'));
  return i >= 0 ? (o.keyImages[i] ?? null) : null;
}

/** The level outcomes of a study: one per label of a level the pipeline reports. */
export function levelOutcomes(
  o: StudyOutcome,
  reportLevels: readonly DiscLevel[] = REPORT_LEVELS,
): LevelOutcome[] {
  const out: LevelOutcome[] = [];
  for (const label of o.labels) {
    if (!reportLevels.includes(label.level)) continue; // a level the pipeline does not report
    const base = {
      study: o.study,
      studyInstanceUid: o.studyInstanceUid,
      level: label.level,
      line: label.line,
      truth: label.diagnosis,
    };
    if (!o.result) {
      out.push({
        ...base,
        predicted: 'indeterminate',
        pHerniation: null,
        reason: `the study could not be analysed: ${o.error ?? 'unknown error'}`,
        keyImage: null,
      });
      continue;
    }
    const f: LevelFinding | undefined = o.result.levels.find((l) => l.level === label.level);
    if (!f) {
      out.push({
        ...base,
        predicted: 'indeterminate',
        pHerniation: null,
        reason: 'the pipeline reported nothing for this level',
        keyImage: keyImageOf(o, label.level),
      });
      continue;
    }
    out.push({
      ...base,
      predicted: f.diagnosis,
      pHerniation: pHerniationOf(f.probabilities),
      reason: f.reason,
      keyImage: keyImageOf(o, label.level),
    });
  }
  return out;
}

/** A reason without its numbers and level names, so that alike reasons count together. */
export function reasonKind(reason: string | null): string {
  if (!reason) return 'no reason given';
  const head = reason.split(': ')[0];
  return head.replace(/\b(T12|L[1-5])-(L[1-5]|S1)\b/g, 'level').trim();
}

/** The figures of one scope (one level, or all levels together). */
export function scopeFigures(scope: string, levels: LevelOutcome[], plotName: string): ScopeFigures {
  const det = levels.filter((l) => l.predicted !== 'indeterminate' && l.pHerniation !== null);
  const truthH = det.map((l) => HERNIATED.includes(l.truth));
  const predH = det.map((l) => HERNIATED.includes(l.predicted as AxialClass));
  const probs = det.map((l) => l.pHerniation!);
  const detected = det.filter(
    (l) => HERNIATED.includes(l.truth) && HERNIATED.includes(l.predicted as AxialClass),
  );
  const lateral = detected.filter((l) => l.truth === 'left' || l.truth === 'right');
  const indet = levels.filter((l) => l.predicted === 'indeterminate');
  const reasons = new Map<string, number>();
  for (const l of indet) reasons.set(reasonKind(l.reason), (reasons.get(reasonKind(l.reason)) ?? 0) + 1);
  return {
    scope,
    levels: levels.length,
    determinate: det.length,
    confusion: confusionMatrix(
      levels.map((l) => l.truth),
      levels.map((l) => l.predicted),
      AXIAL_CLASSES,
      PREDICTED_COLUMNS,
    ),
    accuracy: wilson(det.filter((l) => l.predicted === l.truth).length, det.length),
    herniation: binaryFigures(truthH, predH),
    intentionToDiagnose: (() => {
      const b = binaryFigures(
        levels.map((l) => HERNIATED.includes(l.truth)),
        levels.map((l) =>
          l.predicted === 'indeterminate'
            ? !HERNIATED.includes(l.truth)
            : HERNIATED.includes(l.predicted as AxialClass),
        ),
      );
      return { sensitivity: b.sensitivity, specificity: b.specificity };
    })(),
    roc: roc(probs, truthH),
    pr: precisionRecall(probs, truthH),
    calibration: calibration(probs, truthH),
    side: wilson(lateral.filter((l) => l.predicted === l.truth).length, lateral.length),
    type: wilson(detected.filter((l) => l.predicted === l.truth).length, detected.length),
    indeterminate: {
      rate: wilson(indet.length, levels.length),
      reasons: [...reasons]
        .map(([reason, n]) => ({ reason, n }))
        .sort((a, b) => b.n - a.n || a.reason.localeCompare(b.reason)),
    },
    plots: {
      roc: `plots/roc-${plotName}.png`,
      pr: `plots/pr-${plotName}.png`,
      calibration: `plots/calibration-${plotName}.png`,
    },
  };
}

/** The grading outcomes of a study: its labels that carry any sagittal-grading column. */
export function gradingOutcomes(o: StudyOutcome): GradingOutcome[] {
  return o.labels
    .filter(
      (l) =>
        l.herniation !== undefined ||
        l.bulging !== undefined ||
        l.narrowing !== undefined ||
        l.pfirrmann !== undefined,
    )
    .map((l) => {
      const g = o.result?.gradings.find((x) => x.level === l.level);
      return {
        study: o.study,
        level: l.level,
        line: l.line,
        truth: {
          ...(l.herniation !== undefined && { herniation: l.herniation }),
          ...(l.bulging !== undefined && { bulging: l.bulging }),
          ...(l.narrowing !== undefined && { narrowing: l.narrowing }),
          ...(l.pfirrmann !== undefined && { pfirrmann: l.pfirrmann }),
        },
        predicted: g
          ? {
              herniation: g.herniation,
              bulging: g.bulging,
              narrowing: g.narrowing,
              flags: g.flags,
              pfirrmann: g.pfirrmann.grade,
            }
          : null,
      };
    });
}

function flagFigures(
  rows: GradingOutcome[],
  flag: 'herniation' | 'bulging' | 'narrowing',
): FlagFigures | null {
  const xs = rows.filter((r) => r.truth[flag] !== undefined && r.predicted);
  if (xs.length === 0) return null;
  const truth = xs.map((r) => r.truth[flag] === 1);
  return {
    n: xs.length,
    positives: truth.filter(Boolean).length,
    roc: roc(
      xs.map((r) => r.predicted![flag]),
      truth,
    ),
    atThreshold: binaryFigures(
      truth,
      xs.map((r) => r.predicted!.flags[flag]),
    ),
  };
}

export function gradingFigures(rows: GradingOutcome[]): GradingFigures | null {
  if (rows.length === 0) return null;
  const pf = rows.filter((r) => r.truth.pfirrmann !== undefined && r.predicted);
  const grades = ['1', '2', '3', '4', '5'];
  return {
    labelled: rows.length,
    graded: rows.filter((r) => r.predicted).length,
    herniation: flagFigures(rows, 'herniation'),
    bulging: flagFigures(rows, 'bulging'),
    narrowing: flagFigures(rows, 'narrowing'),
    pfirrmann: pf.length
      ? {
          n: pf.length,
          exact: wilson(pf.filter((r) => r.predicted!.pfirrmann === r.truth.pfirrmann).length, pf.length),
          withinOne: wilson(
            pf.filter((r) => Math.abs(r.predicted!.pfirrmann - r.truth.pfirrmann!) <= 1).length,
            pf.length,
          ),
          confusion: confusionMatrix(
            pf.map((r) => String(r.truth.pfirrmann)),
            pf.map((r) => String(r.predicted!.pfirrmann)),
            grades,
            grades,
          ),
        }
      : null,
  };
}

export interface ReportContext {
  site: string | null;
  date: Date;
  algorithm: { name: string; version: string };
  disclaimer: string;
  studiesDir: string;
  labelsFile: string;
  /** The models that ran (from a study's result, or from the model set when every study failed). */
  models: Record<string, { name: string; version: string }>;
  unlabelled: string[];
  reportLevels: readonly DiscLevel[];
}

/** Every figure of the report from the studies' outcomes. */
export function buildSiteReport(outcomes: StudyOutcome[], ctx: ReportContext): SiteReport {
  const levels = outcomes.flatMap((o) => levelOutcomes(o, ctx.reportLevels));
  const rows = outcomes.reduce((n, o) => n + o.labels.length, 0);
  const scopes = [
    scopeFigures('all levels', levels, 'all'),
    ...ctx.reportLevels.map((lv) =>
      scopeFigures(
        lv,
        levels.filter((l) => l.level === lv),
        lv,
      ),
    ),
  ];
  const cases: CaseRow[] = levels
    .filter((l) => l.predicted !== l.truth)
    .map((l) => ({
      kind: l.predicted === 'indeterminate' ? ('indeterminate' as const) : ('wrong' as const),
      ...l,
    }));
  const warnings: string[] = [];
  const disagree = outcomes
    .flatMap((o) => o.labels)
    .filter((l) => l.herniation !== undefined && (l.herniation === 1) !== HERNIATED.includes(l.diagnosis));
  if (disagree.length) {
    warnings.push(
      `${disagree.length} row(s) have a herniation column that disagrees with their diagnosis (for example ` +
        `line ${disagree[0].line}); the diagnosis defines herniation for the main figures`,
    );
  }
  if (ctx.unlabelled.length) {
    warnings.push(
      `${ctx.unlabelled.length} study folder(s) have no label and were not analysed: ` +
        ctx.unlabelled.slice(0, 5).join(', ') +
        (ctx.unlabelled.length > 5 ? ', ...' : ''),
    );
  }
  const gradingRows = outcomes.flatMap(gradingOutcomes);
  return {
    kind: 'lumbar-ai site validation report',
    statement: SITE_STATEMENT,
    site: ctx.site,
    date: ctx.date.toISOString(),
    algorithm: ctx.algorithm,
    models: ctx.models,
    disclaimer: ctx.disclaimer,
    inputs: { studiesDir: ctx.studiesDir, labels: ctx.labelsFile },
    studies: {
      n: outcomes.length,
      analysed: outcomes.filter((o) => o.result).length,
      failed: outcomes.filter((o) => !o.result).length,
      unlabelled: ctx.unlabelled,
    },
    labels: { rows, scored: levels.length, outsideScope: rows - levels.length },
    herniationTruth: 'diagnosis',
    definitions: DEFINITIONS,
    scopes,
    grading: gradingFigures(gradingRows),
    cases,
    perStudy: outcomes.map((o) => ({
      study: o.study,
      studyInstanceUid: o.studyInstanceUid,
      dir: o.dir,
      labelledLevels: o.labels.length,
      findings: o.findings,
      keyImages: o.keyImages,
      error: o.error,
      warnings: o.warnings,
    })),
    warnings,
  };
}
