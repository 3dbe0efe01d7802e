// The model set: the four shipped models, and the optional sagittal grader (models/sag-grading) when its folder
// is there; a grader folder with a malformed card stops the node with a sentence naming the file.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GRADING_OUTPUTS, parseModelCard } from './card';
import { closeModelSet, MODEL_FOLDERS, openModelSet } from './registry';

const models = join(__dirname, '..', '..', '..', 'models');
interface Card {
  task: string;
  input: { shape: unknown[] };
  output: { classes: string[]; shape?: unknown[]; thresholds?: Record<string, number> };
  preprocessing?: unknown;
}
const gradingCard = (): Card => JSON.parse(readFileSync(join(models, 'sag-grading', 'model.json'), 'utf8'));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'models-'));
  for (const f of Object.values(MODEL_FOLDERS)) symlinkSync(join(models, f), join(dir, f));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** dir/sag-grading: the shipped grader with its card changed by `edit`. */
function grader(edit: (card: Card) => void): void {
  cpSync(join(models, 'sag-grading'), join(dir, 'sag-grading'), { recursive: true });
  const card = gradingCard();
  edit(card);
  writeFileSync(join(dir, 'sag-grading', 'model.json'), JSON.stringify(card));
}

describe('openModelSet', () => {
  it('opens the four models, and the grader only when its folder is there', async () => {
    const four = await openModelSet(dir, { intraOpThreads: 1 });
    expect(Object.keys(four).sort()).toEqual(['axialCls', 'axialSeg', 'sagittalCls', 'sagittalSeg']);
    await closeModelSet(four);
    symlinkSync(join(models, 'sag-grading'), join(dir, 'sag-grading'));
    const five = await openModelSet(dir, { intraOpThreads: 1 });
    try {
      expect(five.sagittalGrading?.card.task).toBe('grading');
      expect([...five.sagittalGrading!.card.output.classes].sort()).toEqual([...GRADING_OUTPUTS].sort());
      const channels = Number(five.sagittalGrading!.card.input?.shape[1]);
      const out = await five.sagittalGrading!.run(new Float32Array(2 * channels * 64 * 64).fill(0.5), 2);
      expect(out.dims).toEqual([2, 11]);
    } finally {
      await closeModelSet(five);
    }
  }, 60_000);

  it('refuses a grader folder whose card is missing or malformed, naming the file', async () => {
    mkdirSync(join(dir, 'sag-grading'));
    await expect(openModelSet(dir)).rejects.toThrow(/cannot read model card .*sag-grading.model\.json/);
    rmSync(join(dir, 'sag-grading'), { recursive: true });
    grader((c) => (c.output.classes = c.output.classes.slice(0, 10)));
    await expect(openModelSet(dir)).rejects.toThrow(
      /sag-grading.model\.json: a grading model has 11 outputs/,
    );
    rmSync(join(dir, 'sag-grading'), { recursive: true });
    grader((c) => (c.task = 'classification'));
    await expect(openModelSet(dir)).rejects.toThrow(
      /sag-grading: its card's task is classification, not grading/,
    );
  }, 60_000);
});

describe('parseModelCard, grading', () => {
  it('checks the input, the outputs and the thresholds', () => {
    expect(parseModelCard(gradingCard(), 'g.json').output.thresholds?.herniation).toEqual(expect.any(Number));
    const bad = (edit: (c: Card) => void) => {
      const c = gradingCard();
      edit(c);
      return () => parseModelCard(c, 'g.json');
    };
    expect(bad((c) => (c.input.shape = [null, 4, 64, 64]))).toThrow(/takes \[N, 2 or 3, 64, 64\]/);
    expect(bad((c) => (c.output.classes[0] = 'hernia'))).toThrow(/11 outputs/);
    expect(bad((c) => (c.output.classes[1] = c.output.classes[0]))).toThrow(/11 outputs/);
    expect(bad((c) => (c.output.shape = [null, 12]))).toThrow(/"output.shape" must be \[N, 11\]/);
    expect(bad((c) => delete c.output.thresholds)).toThrow(/"output.thresholds" must give/);
    expect(bad((c) => (c.output.thresholds!.narrowing = 2))).toThrow(/"output.thresholds.narrowing" must be/);
  });
});

describe('the axial slice gate (models/ax-slice-gate)', () => {
  const gateCard = (): Card => JSON.parse(readFileSync(join(models, 'ax-slice-gate', 'model.json'), 'utf8'));

  it('is opened when its folder is there, with two sigmoid outputs per slice', async () => {
    symlinkSync(join(models, 'ax-slice-gate'), join(dir, 'ax-slice-gate'));
    const set = await openModelSet(dir, { intraOpThreads: 1 });
    try {
      expect(set.axialGate?.card.task).toBe('slice-gate');
      const ch = Number(set.axialGate!.card.input.shape[1]);
      const out = await set.axialGate!.run(new Float32Array(3 * ch * 64 * 64).fill(0.3), 3);
      expect(out.dims).toEqual([3, 2]);
      for (const p of out.data) expect(p >= 0 && p <= 1).toBe(true);
    } finally {
      await closeModelSet(set);
    }
  }, 60_000);

  it('refuses a card without its contexts, outputs or thresholds', () => {
    expect(parseModelCard(gateCard(), 'gate.json').output.thresholds?.not_disc).toEqual(expect.any(Number));
    const bad = (edit: (c: Card) => void) => {
      const c = gateCard();
      edit(c);
      return () => parseModelCard(c, 'gate.json');
    };
    expect(bad((c) => (c.preprocessing = {}))).toThrow(/contexts_tenths/);
    expect(bad((c) => (c.input.shape = [null, 3, 64, 64]))).toThrow(/slice gate takes \[N, 2, 64, 64\]/);
    expect(bad((c) => (c.output.classes = ['t2', 'not_disc']))).toThrow(/"output.classes" must be/);
    expect(bad((c) => (c.output.thresholds = { not_disc: 2, t2: 0.5 }))).toThrow(/thresholds.not_disc/);
  });
});
