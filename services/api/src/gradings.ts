import { DISC_LEVELS, GRADING_TASKS, type DiscLevel, type GradingProbabilities } from '@lumbar/core';
import { Type } from 'typebox';
import { Algorithm } from './schemas';

/**
 * The sagittal grader's output on one disc (models/sag-grading, learnt from the SPIDER data set's
 * radiological grades), as findings.json stores it (`gradings`, or `levels[].grading`). Probabilities are
 * 0..1; the flags compare them with the model's thresholds.
 */
export interface Grading extends GradingProbabilities {
  level: DiscLevel;
  model: { name: string; version: string };
  sopInstanceUid: string;
  pfirrmann: { grade: 1 | 2 | 3 | 4 | 5; distribution: number[] };
  flags: { herniation: boolean; bulging: boolean; narrowing: boolean };
  fromBottom?: number;
}

const Probability = Type.Number({ minimum: 0, maximum: 1 });

/** What the API answers for one graded disc. */
export const GradingSchema = Type.Object({
  level: Type.String({ description: 'disc level, e.g. L4-L5' }),
  model: Algorithm,
  sopInstanceUid: Type.String({ description: 'the mid-sagittal slice the disc was graded on' }),
  fromBottom: Type.Optional(
    Type.Integer({ minimum: 1, description: 'place of the disc from the bottom of the spine (1 = lowest)' }),
  ),
  herniation: Probability,
  bulging: Probability,
  narrowing: Probability,
  modic: Probability,
  endplate: Probability,
  spondylolisthesis: Probability,
  pfirrmann: Type.Object({
    grade: Type.Integer({ minimum: 1, maximum: 5 }),
    distribution: Type.Array(Probability, {
      minItems: 5,
      maxItems: 5,
      description: 'probability of grades 1 to 5',
    }),
  }),
  flags: Type.Object(
    { herniation: Type.Boolean(), bulging: Type.Boolean(), narrowing: Type.Boolean() },
    { description: "present when the probability reaches the model's threshold" },
  ),
});

export const PROBABILITY_KEYS = GRADING_TASKS;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
const isProbability = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** One stored grading, or null when it is not one (a field missing or out of range). */
function gradingOf(v: unknown, level: unknown): Grading | null {
  if (!isObject(v) || !(DISC_LEVELS as readonly unknown[]).includes(level)) return null;
  const { model, pfirrmann, flags } = v;
  if (!isObject(model) || !isText(model.name) || !isText(model.version)) return null;
  if (!isText(v.sopInstanceUid)) return null;
  if (!PROBABILITY_KEYS.every((k) => isProbability(v[k]))) return null;
  if (!isObject(pfirrmann) || !Number.isInteger(pfirrmann.grade)) return null;
  const grade = pfirrmann.grade as number;
  const distribution = pfirrmann.distribution;
  if (grade < 1 || grade > 5) return null;
  if (!Array.isArray(distribution) || distribution.length !== 5 || !distribution.every(isProbability))
    return null;
  if (!isObject(flags) || !['herniation', 'bulging', 'narrowing'].every((k) => typeof flags[k] === 'boolean'))
    return null;
  const p = Object.fromEntries(PROBABILITY_KEYS.map((k) => [k, v[k] as number])) as Record<
    (typeof PROBABILITY_KEYS)[number],
    number
  >;
  return {
    level: level as DiscLevel,
    model: { name: model.name, version: model.version },
    sopInstanceUid: v.sopInstanceUid,
    ...(Number.isInteger(v.fromBottom) && (v.fromBottom as number) >= 1
      ? { fromBottom: v.fromBottom as number }
      : {}),
    ...p,
    pfirrmann: { grade: grade as Grading['pfirrmann']['grade'], distribution: [...distribution] },
    flags: {
      herniation: flags.herniation as boolean,
      bulging: flags.bulging as boolean,
      narrowing: flags.narrowing as boolean,
    },
  };
}

/**
 * The gradings of an analysis from its stored findings.json, top down (T12-L1 first), one per level.
 * `gradings` when the document has it, else each level's `grading`; none for a document written before
 * the grader existed, or without it installed. An entry that does not parse is left out.
 */
export function gradingsOf(document: unknown): Grading[] {
  if (!isObject(document)) return [];
  const entries: Array<[unknown, unknown]> = Array.isArray(document.gradings)
    ? document.gradings.map((g) => [g, isObject(g) ? g.level : undefined])
    : Array.isArray(document.levels)
      ? document.levels.filter(isObject).map((l) => [l.grading, l.level])
      : [];
  const byLevel = new Map<DiscLevel, Grading>();
  for (const [g, level] of entries) {
    const parsed = gradingOf(g, level);
    if (parsed && !byLevel.has(parsed.level)) byLevel.set(parsed.level, parsed);
  }
  return DISC_LEVELS.flatMap((l) => (byLevel.has(l) ? [byLevel.get(l)!] : []));
}
