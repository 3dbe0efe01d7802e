// The parts of `lumbar finetune` that need no model: its options, the pseudonyms, the node's held-out figures.
import { diagnosisFigures, finetuneSettings, pseudonyms } from './finetune';

describe('finetuneSettings', () => {
  it('defaults to an 80:10:10 split, seed 0, 15 epochs; takes another split or k folds', () => {
    expect(finetuneSettings({})).toEqual({ split: [80, 10, 10], folds: null, seed: 0, epochs: 15 });
    expect(finetuneSettings({ split: '60:20:20', seed: '7', epochs: '3' })).toEqual({
      split: [60, 20, 20],
      folds: null,
      seed: 7,
      epochs: 3,
    });
    expect(finetuneSettings({ folds: '5' })).toMatchObject({ split: null, folds: 5 });
  });

  it.each([
    [{ split: '80:10' }, /--split: "80:10" is not train:validation:test percentages/],
    [{ split: '80:20:0' }, /each at least 1, summing to 100/],
    [{ split: '50:30:30' }, /summing to 100/],
    [{ split: 'a:b:c' }, /--split/],
    [{ folds: '2' }, /--folds: "2" is not an integer from 3 to 20/],
    [{ folds: '4', split: '80:10:10' }, /give --split or --folds, not both/],
    [{ epochs: '0' }, /--epochs: "0" is not an integer from 1 to 1000/],
    [{ seed: '-1' }, /--seed/],
  ])('refuses %j with a sentence', (o, why) => {
    expect(() => finetuneSettings(o)).toThrow(why);
  });
});

describe('pseudonyms', () => {
  it('numbers keys by the rank of their SHA-256, the same for the same keys in any order, without the keys', () => {
    const keys = ['MRN0012345', 'MRN0099999', 'MRN0012345', 'study:1.2.3'];
    const a = pseudonyms(keys, 'P');
    expect(a.size).toBe(3);
    expect([...a.values()].sort()).toEqual(['P001', 'P002', 'P003']);
    const b = pseudonyms([...keys].reverse(), 'P');
    expect([...b.entries()].sort()).toEqual([...a.entries()].sort());
    for (const v of a.values()) expect(v).not.toMatch(/MRN|1\.2\.3/);
  });
});

describe('diagnosisFigures', () => {
  it('accuracy, balanced accuracy over the classes present, herniation sensitivity and specificity', () => {
    const f = diagnosisFigures([
      { truth: 'healthy', found: 'healthy' },
      { truth: 'healthy', found: 'indeterminate' },
      { truth: 'left', found: 'left' },
      { truth: 'left', found: 'right' },
      { truth: 'bulge', found: 'healthy' },
    ]);
    expect(f.n).toBe(5);
    expect(f.accuracy).toBeCloseTo(2 / 5, 12);
    expect(f.balancedAccuracy).toBeCloseTo((0.5 + 0.5 + 0) / 3, 12);
    expect(f.herniationSensitivity).toBe(1);
    expect(f.herniationSpecificity).toBe(1);
    expect(f.indeterminate).toBe(1);
    expect(diagnosisFigures([])).toMatchObject({ n: 0, accuracy: null, balancedAccuracy: null });
  });
});
