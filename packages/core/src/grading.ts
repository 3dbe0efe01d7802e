/**
 * The sagittal grader's outputs (models/sag-grading, training/grading.py OUTPUTS): six probabilities, then the
 * Pfirrmann grade 1-5 as a distribution. The card names them in `output.classes`; code looks them up by name.
 */
export const GRADING_TASKS = [
  'herniation',
  'bulging',
  'narrowing',
  'modic',
  'endplate',
  'spondylolisthesis',
] as const;
export type GradingTask = (typeof GRADING_TASKS)[number];
/** The grader's six probabilities for one disc, by task. */
export type GradingProbabilities = Record<GradingTask, number>;

export const PFIRRMANN_CLASSES = [
  'pfirrmann_1',
  'pfirrmann_2',
  'pfirrmann_3',
  'pfirrmann_4',
  'pfirrmann_5',
] as const;

export const GRADING_OUTPUTS = [...GRADING_TASKS, ...PFIRRMANN_CLASSES] as const;
