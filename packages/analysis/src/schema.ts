import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { AXIAL_CLASSES, DISC_LEVELS, type AxialClass, type DiscLevel } from '@lumbar/core';
import { AnalysisError } from './errors';

// The findings document (findings.json): what the engine returns, the worker stores and the API serves. It
// is checked here, where it leaves the engine and again where it crosses a process boundary, so that a
// consumer can rely on its shape. Nested objects may carry more fields than listed (new evidence is added
// over time); the listed ones are required with these types.

const Probability = Type.Number({ minimum: 0, maximum: 1 });
/** A string from a fixed list, with that list's union as its static type. */
const OneOf = <T extends string>(values: readonly T[]) => Type.Unsafe<T>(Type.Enum([...values]));
const Level = OneOf<DiscLevel>(DISC_LEVELS);
const Diagnosis = OneOf<AxialClass | 'indeterminate'>([...AXIAL_CLASSES, 'indeterminate']);
const AxialProbabilities = Type.Object(
  Object.fromEntries(AXIAL_CLASSES.map((c) => [c, Probability])) as Record<
    (typeof AXIAL_CLASSES)[number],
    typeof Probability
  >,
);
const Uid = Type.String({ pattern: '^[0-9]+(\\.[0-9]+)*$', maxLength: 64 });
const ModelRef = Type.Object({ name: Type.String(), version: Type.String() });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const Grading = Type.Object({
  model: ModelRef,
  sopInstanceUid: Uid,
  fromBottom: Type.Integer({ minimum: 1 }),
  pfirrmann: Type.Object({
    grade: Type.Integer({ minimum: 1, maximum: 5 }),
    distribution: Type.Array(Probability, { minItems: 5, maxItems: 5 }),
  }),
  flags: Type.Object({ herniation: Type.Boolean(), bulging: Type.Boolean(), narrowing: Type.Boolean() }),
});

const AxialEvidence = Type.Object({
  sopInstanceUid: Uid,
  frame: Type.Integer({ minimum: 0 }),
  distanceMm: Type.Number(),
  discAreaMm2: Type.Number({ minimum: 0 }),
  probabilities: AxialProbabilities,
});

export const LevelFindingSchema = Type.Object({
  level: Level,
  diagnosis: Diagnosis,
  probabilities: AxialProbabilities,
  reason: Nullable(Type.String()),
  grading: Type.Optional(Nullable(Grading)),
  evidence: Type.Object({
    sagittal: Nullable(
      Type.Object({
        sopInstanceUid: Uid,
        herniationProbability: Nullable(Probability),
        centroid: Type.Array(Type.Number()),
      }),
    ),
    axial: Type.Array(AxialEvidence),
  }),
});

export const DicomOutputSchema = Type.Object({
  file: Type.String({ pattern: '^[A-Za-z0-9._-]+$' }),
  kind: OneOf(['seg', 'sr', 'key-image'] as const),
  view: Type.Optional(OneOf(['sagittal', 'axial'] as const)),
  sopClassUid: Uid,
  sopInstanceUid: Uid,
  seriesInstanceUid: Uid,
});

export const FindingsSchema = Type.Object({
  studyInstanceUid: Uid,
  levels: Type.Array(LevelFindingSchema),
  summary: Type.String({ minLength: 1 }),
  algorithm: Type.Object({
    name: Type.String(),
    version: Type.String(),
    models: Type.Record(Type.String(), ModelRef),
  }),
  disclaimer: Type.String({ minLength: 1 }),
  series: Type.Object({ sagittal: Nullable(Uid), axial: Nullable(Uid) }),
  discs: Type.Array(
    Type.Object({ level: Level, centroid: Type.Array(Type.Number()), areaMm2: Type.Number() }),
  ),
  sagittalProbabilities: Nullable(Type.Record(Type.String(), Probability)),
  gradings: Type.Array(Type.Intersect([Grading, Type.Object({ level: Level })])),
  keyImages: Type.Array(
    Type.Object({
      file: Type.String({ pattern: '^key-images/[0-9]+\\.png$' }),
      title: Type.String(),
      sopInstanceUid: Uid,
    }),
  ),
  dicom: Type.Array(DicomOutputSchema),
  warnings: Type.Array(Type.String()),
  timingsMs: Type.Record(Type.String(), Type.Number()),
});

/** The findings document as consumers read it (fields beyond these may be present). */
export type FindingsDocument = Static<typeof FindingsSchema>;

/**
 * The document if it has the schema's shape, else an AnalysisError INVALID_OUTPUT naming the first few
 * places where it does not (path and what was expected).
 */
export function checkFindings(doc: unknown): FindingsDocument {
  if (Value.Check(FindingsSchema, doc)) return doc;
  const problems = [...Value.Errors(FindingsSchema, doc)]
    .slice(0, 3)
    .map((e) => `${e.instancePath || '/'} ${e.message}`);
  throw new AnalysisError(
    'INVALID_OUTPUT',
    `the findings document does not have its schema's shape: ${problems.join('; ')}`,
  );
}
