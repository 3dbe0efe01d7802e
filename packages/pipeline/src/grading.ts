import { GRADING_TASKS, PFIRRMANN_CLASSES, InputError } from '@lumbar/core';
import {
  GRADING_CHANNEL_COUNTS,
  GRADING_CROP,
  gradingInput,
  type DiscPlace,
  type GrayImage,
} from '@lumbar/imaging';
import type { DiscGrading, Predictor } from './types';

/**
 * The sagittal grader (models/sag-grading, training/grading.py): one crop per disc of the mid-sagittal slice,
 * six probabilities and a Pfirrmann distribution per disc. Outputs are looked up by the names of the card's
 * `output.classes`, flags by its `output.thresholds`, so any model of this format works.
 */
export { GRADING_TASKS, PFIRRMANN_CLASSES };
/** The tasks DiscGrading.flags reports. */
export const FLAGGED_TASKS = ['herniation', 'bulging', 'narrowing'] as const;
/** Discs graded from the bottom: L5-S1 up to T12-L1 (the grader learnt SPIDER's IVD labels 1..6). */
export const MAX_GRADED_DISCS = 6;

type Task = (typeof GRADING_TASKS)[number];

/** Where each output lies in a row of the grader's output, and the thresholds of the flags; throws when absent. */
export function gradingLayout(card: Predictor['card']): {
  index: Record<Task | (typeof PFIRRMANN_CLASSES)[number], number>;
  thresholds: Record<(typeof FLAGGED_TASKS)[number], number>;
  width: number;
} {
  const classes = card.output.classes;
  const index = {} as Record<Task | (typeof PFIRRMANN_CLASSES)[number], number>;
  for (const k of [...GRADING_TASKS, ...PFIRRMANN_CLASSES]) {
    const i = classes.indexOf(k);
    if (i < 0) throw new InputError(`${card.name}: a grading model must output "${k}" (output.classes)`);
    index[k] = i;
  }
  const thresholds = {} as Record<(typeof FLAGGED_TASKS)[number], number>;
  for (const k of FLAGGED_TASKS) {
    const t = card.output.thresholds?.[k];
    if (typeof t !== 'number')
      throw new InputError(`${card.name}: no threshold for ${k} (output.thresholds)`);
    thresholds[k] = t;
  }
  return { index, thresholds, width: classes.length };
}

/** The input channels of a grading model's card: 2 (crop, CLAHE) or 3 (and the disc's own component). */
export function gradingChannels(card: Predictor['card']): number {
  const ch = card.input?.shape[1];
  if (typeof ch !== 'number' || !GRADING_CHANNEL_COUNTS.includes(ch))
    throw new InputError(`${card.name}: a grading model takes 2 or 3 input channels, its card says ${ch}`);
  return ch;
}

export interface GradeOptions {
  /** The image's component label map (`spineDiscs().labels`): 3-channel models need it. */
  labels?: ArrayLike<number>;
  /** Each disc's place from the bottom (`spineDiscs().places`; default 1, 2, 3, ...). */
  places?: readonly number[];
  /** Called with each graded disc's input (C x 64 x 64, in the order of the gradings) before the model runs. */
  onInputs?: (inputs: Float32Array[]) => void;
}

/**
 * Grades the discs of one canonical sagittal image (from the bottom up: `discs[0]` is the lowest) with one
 * batched model call: those whose place from the bottom is at most MAX_GRADED_DISCS, in their order. The
 * grade is the most probable Pfirrmann grade (the lower on a tie); a flag is set when the probability reaches
 * the card's threshold for the task.
 */
export async function gradeDiscs(
  model: Predictor,
  image: GrayImage,
  discs: readonly DiscPlace[],
  sopInstanceUid: string,
  opts: GradeOptions = {},
): Promise<DiscGrading[]> {
  const { labels } = opts;
  const places = discs.map((_, k) => opts.places?.[k] ?? k + 1);
  const take = discs.filter((_, k) => places[k] <= MAX_GRADED_DISCS);
  if (take.length === 0) return [];
  const { index, thresholds, width } = gradingLayout(model.card);
  const channels = gradingChannels(model.card);
  const plane = channels * GRADING_CROP * GRADING_CROP;
  const batch = new Float32Array(take.length * plane);
  const inputs = take.map((d) => gradingInput(image, d, { channels, labels }).tensor.data);
  inputs.forEach((x, k) => batch.set(x, k * plane));
  opts.onInputs?.(inputs);
  const out = await model.run(batch, take.length);
  if (out.data.length !== take.length * width) {
    throw new InputError(
      `${model.card.name}: ${out.data.length} outputs for ${take.length} discs, expected ${width} each`,
    );
  }
  return take.map((_, k): DiscGrading => {
    const row = out.data.subarray(k * width, (k + 1) * width);
    const p = (name: keyof typeof index): number => row[index[name]];
    const distribution = PFIRRMANN_CLASSES.map(p) as DiscGrading['pfirrmann']['distribution'];
    let best = 0;
    for (let g = 1; g < distribution.length; g++) if (distribution[g] > distribution[best]) best = g;
    return {
      model: { name: model.card.name, version: model.card.version },
      sopInstanceUid,
      fromBottom: places[k],
      herniation: p('herniation'),
      bulging: p('bulging'),
      narrowing: p('narrowing'),
      modic: p('modic'),
      endplate: p('endplate'),
      spondylolisthesis: p('spondylolisthesis'),
      pfirrmann: { grade: (best + 1) as DiscGrading['pfirrmann']['grade'], distribution },
      flags: {
        herniation: p('herniation') >= thresholds.herniation,
        bulging: p('bulging') >= thresholds.bulging,
        narrowing: p('narrowing') >= thresholds.narrowing,
      },
    };
  });
}
