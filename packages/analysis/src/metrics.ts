/** Confusion matrix, accuracy and balanced accuracy over string labels (truth rows, prediction columns). */
export function confusion(truth: string[], pred: string[], classes: readonly string[]) {
  const idx = new Map(
    [...classes, ...new Set(pred.filter((p) => !classes.includes(p)))].map((c, i) => [c, i]),
  );
  const cols = [...idx.keys()];
  const m = classes.map(() => cols.map(() => 0));
  truth.forEach((t, i) => {
    const r = classes.indexOf(t);
    if (r >= 0) m[r][idx.get(pred[i])!]++;
  });
  const correct = truth.filter((t, i) => t === pred[i]).length;
  // recall of each class (null when the class never occurs in the truth)
  const recallOf = m.map((row, r) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n ? row[r] / n : null;
  });
  const recalls = recallOf.filter((x): x is number => x !== null);
  return {
    n: truth.length,
    accuracy: truth.length ? correct / truth.length : 0,
    balancedAccuracy: recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : 0,
    recall: Object.fromEntries(classes.map((c, r) => [c, recallOf[r]])),
    classes,
    predicted: cols,
    matrix: m,
  };
}

/** p50, p95 and max of a list of numbers. */
export function quantiles(xs: number[]): { p50: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? 0;
  return { p50: q(0.5), p95: q(0.95), max: s[s.length - 1] ?? 0 };
}
