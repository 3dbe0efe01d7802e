// The figures of a site validation report (docs/SITE-VALIDATION.md defines each one): proportions with
// Wilson 95% intervals, ROC and PR curves with their areas, calibration bins. Pure functions of numbers.

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** A proportion k/n with its Wilson score interval; value, low and high are null when n = 0. */
export interface Proportion {
  k: number;
  n: number;
  value: number | null;
  low: number | null;
  high: number | null;
}

/**
 * The Wilson score interval of k successes in n trials (Wilson 1927): unlike the normal approximation it
 * stays inside [0, 1] and is usable for small n and for k = 0 or k = n.
 */
export function wilson(k: number, n: number, z = Z95): Proportion {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < 0 || k > n) {
    throw new RangeError(`wilson: need integers 0 <= k <= n, got k=${k}, n=${n}`);
  }
  if (n === 0) return { k, n, value: null, low: null, high: null };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // at k = 0 or k = n the bound is exactly 0 or 1 (rounding would leave 1e-17)
  return {
    k,
    n,
    value: p,
    low: k === 0 ? 0 : Math.max(0, centre - half),
    high: k === n ? 1 : Math.min(1, centre + half),
  };
}

/** Counts and rates of a binary test against a binary truth. */
export interface BinaryFigures {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  sensitivity: Proportion;
  specificity: Proportion;
  ppv: Proportion;
  npv: Proportion;
}

export function binaryFigures(truth: readonly boolean[], predicted: readonly boolean[]): BinaryFigures {
  if (truth.length !== predicted.length) throw new RangeError('binaryFigures: lengths differ');
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  truth.forEach((t, i) => {
    if (t && predicted[i]) tp++;
    else if (t) fn++;
    else if (predicted[i]) fp++;
    else tn++;
  });
  return {
    tp,
    fp,
    tn,
    fn,
    sensitivity: wilson(tp, tp + fn),
    specificity: wilson(tn, tn + fp),
    ppv: wilson(tp, tp + fp),
    npv: wilson(tn, tn + fn),
  };
}

export interface RocPoint {
  /** Scores >= threshold are called positive. */
  threshold: number;
  fpr: number;
  tpr: number;
}

export interface Roc {
  positives: number;
  negatives: number;
  /** Area under the ROC curve (ties count one half); null without positives or negatives. */
  auc: number | null;
  /** Hanley & McNeil (1982) 95% interval of the AUC, clipped to [0, 1]; null where the AUC is. */
  aucLow: number | null;
  aucHigh: number | null;
  points: RocPoint[];
}

/** The distinct thresholds of `scores`, highest first, with the counts of positives and negatives at each. */
function descendingGroups(scores: readonly number[], labels: readonly boolean[]) {
  if (scores.length !== labels.length) throw new RangeError('scores and labels differ in length');
  const order = scores.map((s, i) => [s, labels[i]] as const).sort((a, b) => b[0] - a[0]);
  const groups: Array<{ threshold: number; pos: number; neg: number }> = [];
  for (const [s, l] of order) {
    const last = groups[groups.length - 1];
    const g = last && last.threshold === s ? last : { threshold: s, pos: 0, neg: 0 };
    if (g !== last) groups.push(g);
    if (l) g.pos++;
    else g.neg++;
  }
  return groups;
}

/** The empirical ROC curve of scores against binary labels, from (0, 0) to (1, 1). */
export function roc(scores: readonly number[], labels: readonly boolean[]): Roc {
  const groups = descendingGroups(scores, labels);
  const P = labels.filter(Boolean).length;
  const N = labels.length - P;
  const points: RocPoint[] = [{ threshold: Infinity, fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  let area = 0;
  for (const g of groups) {
    const prevTp = tp;
    const prevFp = fp;
    tp += g.pos;
    fp += g.neg;
    area += ((fp - prevFp) * (tp + prevTp)) / 2; // trapezoid: ties count one half
    points.push({ threshold: g.threshold, fpr: N ? fp / N : 0, tpr: P ? tp / P : 0 });
  }
  if (P === 0 || N === 0)
    return { positives: P, negatives: N, auc: null, aucLow: null, aucHigh: null, points };
  const auc = area / (P * N);
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  const variance = (auc * (1 - auc) + (P - 1) * (q1 - auc * auc) + (N - 1) * (q2 - auc * auc)) / (P * N);
  const half = Z95 * Math.sqrt(Math.max(0, variance));
  return {
    positives: P,
    negatives: N,
    auc,
    aucLow: Math.max(0, auc - half),
    aucHigh: Math.min(1, auc + half),
    points,
  };
}

export interface PrPoint {
  threshold: number;
  recall: number;
  precision: number;
}

export interface PrCurve {
  positives: number;
  n: number;
  /** The precision of calling everything positive: the PR curve of a useless score. */
  prevalence: number | null;
  /** Average precision: sum over thresholds of (recall step) x precision; null without positives. */
  averagePrecision: number | null;
  points: PrPoint[];
}

/** The precision-recall curve of scores against binary labels, one point per distinct threshold. */
export function precisionRecall(scores: readonly number[], labels: readonly boolean[]): PrCurve {
  const groups = descendingGroups(scores, labels);
  const P = labels.filter(Boolean).length;
  const points: PrPoint[] = [];
  let tp = 0;
  let fp = 0;
  let ap = 0;
  let prevRecall = 0;
  for (const g of groups) {
    tp += g.pos;
    fp += g.neg;
    const recall = P ? tp / P : 0;
    const precision = tp / (tp + fp);
    ap += (recall - prevRecall) * precision;
    prevRecall = recall;
    points.push({ threshold: g.threshold, recall, precision });
  }
  return {
    positives: P,
    n: labels.length,
    prevalence: labels.length ? P / labels.length : null,
    averagePrecision: P ? ap : null,
    points,
  };
}

export interface CalibrationBin {
  /** The bin holds scores in [low, high) (the last one includes 1). */
  low: number;
  high: number;
  n: number;
  /** Mean predicted probability of the bin; null when empty. */
  meanPredicted: number | null;
  /** Fraction of positives with its Wilson interval. */
  observed: Proportion;
}

export interface Calibration {
  n: number;
  bins: CalibrationBin[];
  /** Mean squared difference between probability and outcome (0 is perfect); null when n = 0. */
  brier: number | null;
  /** Expected calibration error: the n-weighted mean of |observed - predicted| over the bins. */
  ece: number | null;
}

/** Reliability of probabilities: `bins` equal-width bins over [0, 1]. */
export function calibration(probs: readonly number[], labels: readonly boolean[], bins = 10): Calibration {
  if (probs.length !== labels.length) throw new RangeError('calibration: lengths differ');
  const acc = Array.from({ length: bins }, () => ({ n: 0, k: 0, sum: 0 }));
  let brier = 0;
  probs.forEach((p, i) => {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    acc[b].n++;
    acc[b].sum += p;
    if (labels[i]) acc[b].k++;
    brier += (p - (labels[i] ? 1 : 0)) ** 2;
  });
  const n = probs.length;
  const out = acc.map((a, b) => ({
    low: b / bins,
    high: (b + 1) / bins,
    n: a.n,
    meanPredicted: a.n ? a.sum / a.n : null,
    observed: wilson(a.k, a.n),
  }));
  const ece = n
    ? out.reduce((s, b) => s + (b.n ? (b.n / n) * Math.abs(b.observed.value! - b.meanPredicted!) : 0), 0)
    : null;
  return { n, bins: out, brier: n ? brier / n : null, ece };
}

/** A square confusion matrix of string labels: rows are the truth, columns the prediction. */
export interface ConfusionMatrix {
  rows: string[];
  columns: string[];
  matrix: number[][];
  n: number;
}

export function confusionMatrix(
  truth: readonly string[],
  predicted: readonly string[],
  rows: readonly string[],
  columns: readonly string[],
): ConfusionMatrix {
  const matrix = rows.map(() => columns.map(() => 0));
  truth.forEach((t, i) => {
    const r = rows.indexOf(t);
    const c = columns.indexOf(predicted[i]);
    if (r < 0 || c < 0) throw new RangeError(`confusionMatrix: unknown label ${t} / ${predicted[i]}`);
    matrix[r][c]++;
  });
  return { rows: [...rows], columns: [...columns], matrix, n: truth.length };
}
