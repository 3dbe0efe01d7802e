// The sagittal grader in the pipeline, with the real models (models/sag-seg-unet, models/sag-grading) in ONNX
// Runtime: per-disc gradings from one batched call, their use in the fusion, and the node without the grader.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { gradingInput, initImaging, spineDiscs, type GrayImage } from '@lumbar/imaging';
import { closeModelSet, openModelSet, type ModelSet } from '@lumbar/inference';
import { analyzeStudy } from './analyze';
import { fuseLevel } from './fuse';
import { GRADING_TASKS, gradeDiscs, gradingChannels, gradingLayout } from './grading';
import { segmentBatch } from './segment';
import type { Models, Predictor, StudyInput } from './types';

const root = join(__dirname, '..', '..', '..');
const sharedDir = process.env.LUMBAR_SHARED_DIR ?? join(root, '..', 'shared');

function readGray(file: string): GrayImage {
  const png = PNG.sync.read(readFileSync(file));
  const data = new Uint8Array(png.width * png.height);
  for (let i = 0; i < data.length; i++) data[i] = png.data[i * 4];
  return { width: png.width, height: png.height, data };
}

/** A real SPIDER mid-sagittal slice as a one-slice study (rows run to the feet, columns to the back). */
function spiderStudy(image: GrayImage): StudyInput {
  return {
    studyInstanceUid: '1.2.3',
    sagittal: [
      {
        sopInstanceUid: '1.2.3.4',
        frame: 0,
        plane: {
          position: [0, 0, 0],
          row: [0, 1, 0],
          col: [0, 0, -1],
          spacing: [0.6, 0.6],
          rows: image.height,
          columns: image.width,
        },
        thickness: 4,
        pixels: image.data,
      },
    ],
    axial: [],
  };
}

/** The real model, counting its calls (no stand-in for ONNX Runtime). */
function counted(m: Predictor): Predictor & { calls: number[] } {
  const calls: number[] = [];
  return { card: m.card, calls, run: (data, n) => (calls.push(n), m.run(data, n)) };
}

let models: ModelSet;
let image: GrayImage;
beforeAll(async () => {
  [models] = await Promise.all([openModelSet(join(root, 'models'), { intraOpThreads: 1 }), initImaging()]);
  image = readGray(join(sharedDir, 'data', 'spider', 'sagittal_t2', '204_t2.png'));
}, 60_000);
afterAll(() => closeModelSet(models));

describe('gradeDiscs', () => {
  it('grades up to six discs from the bottom in one batched call, as the model gives each one alone', async () => {
    expect(models.sagittalGrading).toBeDefined();
    const grader = counted(models.sagittalGrading!);
    const [mask] = await segmentBatch(models.sagittalSeg, [{ image }]);
    const { discs, labels, places } = spineDiscs(mask);
    expect(discs.length).toBeGreaterThanOrEqual(6);
    expect(places.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
    const gradings = await gradeDiscs(grader, image, discs, '1.2.3.4', { labels, places });
    expect(grader.calls).toEqual([6]);
    expect(gradings.map((g) => g.fromBottom)).toEqual([1, 2, 3, 4, 5, 6]);
    const { index, thresholds } = gradingLayout(grader.card);
    const channels = gradingChannels(grader.card);
    for (const [k, g] of gradings.entries()) {
      const x = gradingInput(image, discs[k], { channels, labels }).tensor.data;
      const alone = await models.sagittalGrading!.run(x, 1);
      for (const t of GRADING_TASKS) {
        expect(g[t]).toBeGreaterThanOrEqual(0);
        expect(g[t]).toBeLessThanOrEqual(1);
        expect(Math.abs(g[t] - alone.data[index[t]])).toBeLessThan(1e-6);
      }
      const d = g.pfirrmann.distribution;
      expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(d[g.pfirrmann.grade - 1]).toBe(Math.max(...d));
      expect(g.flags).toEqual({
        herniation: g.herniation >= thresholds.herniation,
        bulging: g.bulging >= thresholds.bulging,
        narrowing: g.narrowing >= thresholds.narrowing,
      });
      expect(g).toMatchObject({ sopInstanceUid: '1.2.3.4', model: { name: grader.card.name } });
    }
    expect(await gradeDiscs(grader, image, [], 'x')).toEqual([]);
    expect(grader.calls).toEqual([6]);
    // places past the sixth are not graded; a skipped place is kept
    const skipped = await gradeDiscs(grader, image, discs.slice(0, 3), 'x', { labels, places: [1, 2, 7] });
    expect(skipped.map((g) => g.fromBottom)).toEqual([1, 2]);
    expect(skipped[1].herniation).toBeCloseTo(gradings[1].herniation, 6);
  }, 60_000);

  it('needs the label map for a 3-channel model', async () => {
    const card = models.sagittalGrading!.card;
    const three = { ...card, input: { shape: [null, 3, 64, 64] } };
    const disc = { x0: 10, x1: 40, cx: 25, cy: 30, label: 1 };
    await expect(
      gradeDiscs({ card: three, run: () => Promise.reject(new Error('not run')) }, image, [disc], 'x'),
    ).rejects.toThrow(/3-channel grading input needs the image's label map/);
    expect(() => gradingChannels({ ...card, input: { shape: [null, 1, 64, 64] } })).toThrow(
      /2 or 3 input channels/,
    );
  });

  it('refuses a card without an output or a threshold it needs', () => {
    const card = models.sagittalGrading!.card;
    const without = card.output.classes.filter((c) => c !== 'pfirrmann_3');
    expect(() => gradingLayout({ ...card, output: { ...card.output, classes: without } })).toThrow(
      /must output "pfirrmann_3"/,
    );
    expect(() =>
      gradingLayout({ ...card, output: { ...card.output, thresholds: { herniation: 0.1 } } }),
    ).toThrow(/no threshold for bulging/);
  });
});

describe('analyzeStudy with the sagittal grader', () => {
  it('grades every disc of the mid-sagittal slice, fills the reported levels and fuses its herniation', async () => {
    const grader = counted(models.sagittalGrading!);
    const r = await analyzeStudy(spiderStudy(image), { ...models, sagittalGrading: grader } as Models);
    expect(grader.calls).toEqual([6]);
    expect(r.gradings.map((g) => [g.level, g.fromBottom])).toEqual([
      ['L5-S1', 1],
      ['L4-L5', 2],
      ['L3-L4', 3],
      ['L2-L3', 4],
      ['L1-L2', 5],
      ['T12-L1', 6],
    ]);
    expect(r.discs.map((d) => d.level)).toEqual(r.gradings.map((g) => g.level));
    expect(r.models.sagittalGrading).toEqual({ name: grader.card.name, version: grader.card.version });
    for (const l of r.levels) {
      const g = r.gradings.find((x) => x.level === l.level)!;
      const { level: _level, ...rest } = g;
      expect(l.grading).toEqual(rest);
      // the sagittal herniation probability is the grader's, on the mid-sagittal slice only
      expect(l.evidence.sagittal?.herniationProbability).toBe(g.herniation);
      expect(l.evidence.sagittal?.perSlice).toEqual([
        { sopInstanceUid: '1.2.3.4', herniationProbability: Math.round(g.herniation * 1e4) / 1e4 },
      ]);
      // no axial series: indeterminate, with the grader's probability of herniation
      expect(l.diagnosis).toBe('indeterminate');
      expect(l.probabilities).toEqual(
        fuseLevel({ sagittalHerniation: g.herniation, axial: null }).probabilities,
      );
    }
    const key = r.keyImages[0];
    expect(key.title).toBe('mid-sagittal T2, discs by level');
    expect(key.labels?.map((l) => l.text.split(' ').slice(0, 2))).toEqual(
      r.gradings.map((g) => [g.level, `P${g.pfirrmann.grade}`]),
    );
  }, 60_000);

  it('works as before without the grader: no gradings, the classifier gives the sagittal herniation', async () => {
    const { sagittalGrading: _grader, ...without } = models;
    const r = await analyzeStudy(spiderStudy(image), without);
    expect(r.gradings).toEqual([]);
    expect(r.models.sagittalGrading).toBeUndefined();
    expect(r.levels.map((l) => l.grading)).toEqual([null, null]);
    expect(r.levels.map((l) => l.evidence.sagittal?.perSlice?.length)).toEqual([1, 1]);
    const classes = models.sagittalCls.card.output.classes;
    for (const l of r.levels)
      expect(l.evidence.sagittal?.herniationProbability).toBe(r.sagittalProbabilities![l.level]);
    expect(classes).toContain('L5-S1');
    expect(r.keyImages[0].labels?.map((l) => l.text)).toEqual(r.discs.map((d) => d.level));
  }, 60_000);
});
