import { binaryFigures, calibration, confusionMatrix, precisionRecall, roc, wilson } from './report-metrics';

describe('wilson', () => {
  // Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (score interval without correction)
  it.each([
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ])('%i/%i is (%f, %f)', (k, n, low, high) => {
    const p = wilson(k, n);
    expect(p.value).toBeCloseTo(k / n, 10);
    expect(p.low).toBeCloseTo(low, 4);
    expect(p.high).toBeCloseTo(high, 4);
  });

  it('is exact at the ends, symmetric, and empty without trials', () => {
    expect(wilson(6, 6)).toMatchObject({ value: 1, high: 1 });
    expect(wilson(6, 6).low).toBeCloseTo(0.6097, 4);
    const a = wilson(3, 10);
    const b = wilson(7, 10);
    expect(a.low!).toBeCloseTo(1 - b.high!, 12);
    expect(wilson(0, 0)).toEqual({ k: 0, n: 0, value: null, low: null, high: null });
    expect(() => wilson(3, 2)).toThrow(RangeError);
  });
});

describe('binaryFigures', () => {
  it('counts TP, FP, TN, FN and their rates', () => {
    const truth = [true, true, true, false, false, false, false];
    const pred = [true, true, false, true, false, false, false];
    const b = binaryFigures(truth, pred);
    expect([b.tp, b.fp, b.tn, b.fn]).toEqual([2, 1, 3, 1]);
    expect(b.sensitivity).toMatchObject({ k: 2, n: 3 });
    expect(b.specificity).toMatchObject({ k: 3, n: 4 });
    expect(b.ppv).toMatchObject({ k: 2, n: 3 });
    expect(b.npv).toMatchObject({ k: 3, n: 4 });
  });
});

/** The AUC as the probability that a random positive outscores a random negative (ties one half). */
function bruteAuc(scores: number[], labels: boolean[]): number {
  let s = 0;
  let pairs = 0;
  scores.forEach((a, i) =>
    scores.forEach((b, j) => {
      if (!labels[i] || labels[j]) return;
      pairs++;
      s += a > b ? 1 : a === b ? 0.5 : 0;
    }),
  );
  return s / pairs;
}

describe('roc and precisionRecall', () => {
  // the example of scikit-learn's roc_auc_score and average_precision_score documentation
  const scores = [0.1, 0.4, 0.35, 0.8];
  const labels = [false, false, true, true];

  it('agree with scikit-learn on its documented example', () => {
    expect(roc(scores, labels).auc).toBeCloseTo(0.75, 12);
    expect(precisionRecall(scores, labels).averagePrecision).toBeCloseTo(0.8333333333, 9);
  });

  it('equal the Mann-Whitney probability, ties included', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const s = Array.from({ length: 60 }, () => Math.round(rnd() * 10) / 10); // many ties
    const l = s.map((x) => rnd() < 0.3 + 0.4 * x);
    const r = roc(s, l);
    expect(r.auc).toBeCloseTo(bruteAuc(s, l), 12);
    expect(r.aucLow!).toBeLessThan(r.auc!);
    expect(r.aucHigh!).toBeGreaterThan(r.auc!);
    expect(r.points[0]).toEqual({ threshold: Infinity, fpr: 0, tpr: 0 });
    expect(r.points[r.points.length - 1]).toMatchObject({ fpr: 1, tpr: 1 });
  });

  it('give 1 for a perfect score, 0 for a reversed one, and no area without both classes', () => {
    expect(roc([0.9, 0.8, 0.2], [true, true, false]).auc).toBe(1);
    expect(roc([0.1, 0.2, 0.9], [true, true, false]).auc).toBe(0);
    expect(roc([0.1, 0.2], [true, true])).toMatchObject({ auc: null, positives: 2, negatives: 0 });
    expect(precisionRecall([0.1, 0.2], [false, false])).toMatchObject({
      averagePrecision: null,
      prevalence: 0,
    });
  });
});

describe('calibration', () => {
  it('bins probabilities and measures Brier score and ECE', () => {
    const c = calibration([0.05, 0.05, 0.95, 0.95, 1], [false, true, true, true, true], 10);
    expect(c.bins).toHaveLength(10);
    expect(c.bins[0]).toMatchObject({ n: 2, meanPredicted: 0.05, observed: { k: 1, n: 2 } });
    expect(c.bins[9].n).toBe(3); // 1 falls in the last bin
    expect(c.bins[9].meanPredicted).toBeCloseTo((0.95 + 0.95 + 1) / 3, 12);
    expect(c.brier).toBeCloseTo((0.05 ** 2 + 0.95 ** 2 + 0.05 ** 2 + 0.05 ** 2 + 0) / 5, 12);
    expect(c.ece).toBeCloseTo((2 / 5) * 0.45 + (3 / 5) * Math.abs(1 - 2.9 / 3), 12);
    expect(calibration([], [])).toMatchObject({ n: 0, brier: null, ece: null });
  });
});

describe('confusionMatrix', () => {
  it('puts the truth in rows and the prediction in columns', () => {
    const m = confusionMatrix(['a', 'a', 'b'], ['a', 'x', 'b'], ['a', 'b'], ['a', 'b', 'x']);
    expect(m.matrix).toEqual([
      [1, 0, 1],
      [0, 1, 0],
    ]);
    expect(() => confusionMatrix(['c'], ['a'], ['a'], ['a'])).toThrow(RangeError);
  });
});
