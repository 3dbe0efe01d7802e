import { GRADING_OUTPUTS, GRADING_TASKS, InputError } from '@lumbar/core';

/** The model card JSON written beside each ONNX file by `python -m training export`. */
export interface ModelCard {
  name: string;
  version: string;
  task: 'segmentation' | 'classification' | 'grading' | 'slice-gate';
  view: 'sagittal' | 'axial';
  file: string;
  input: { name: string; shape: Array<number | null>; layout: 'NCHW'; dtype: 'float32' };
  output: {
    name: string;
    shape: Array<number | null>;
    activation: string;
    classes: string[];
    threshold: number | null;
    /** Grading: the threshold of each binary task (chosen on held-out patients). */
    thresholds?: Record<string, number> | null;
    /** Segmentation: how probabilities go back to the image's size; absent = 'nearest-mask'. */
    upsample?: 'nearest-mask' | 'bilinear-probability';
  };
  preprocessing: Record<string, unknown>;
  training_data?: unknown[];
  metrics?: Record<string, unknown>;
}

/** Validates a parsed model card; every problem is reported with the file it came from. */
export function parseModelCard(raw: unknown, source: string): ModelCard {
  const fail = (why: string): never => {
    throw new InputError(`model card ${source}: ${why}`);
  };
  if (typeof raw !== 'object' || raw === null) fail('not a JSON object');
  const c = raw as Record<string, unknown>;
  for (const k of ['name', 'version', 'file'])
    if (typeof c[k] !== 'string' || !c[k]) fail(`"${k}" must be a non-empty string`);
  if (!['segmentation', 'classification', 'grading', 'slice-gate'].includes(String(c.task)))
    fail('"task" must be segmentation, classification, grading or slice-gate');
  if (c.view !== 'sagittal' && c.view !== 'axial') fail('"view" must be sagittal or axial');
  const input = c.input as ModelCard['input'] | undefined;
  const output = c.output as ModelCard['output'] | undefined;
  if (!input || !Array.isArray(input.shape) || input.shape.length !== 4)
    fail('"input.shape" must be [N, C, H, W]');
  if (!output || !Array.isArray(output.classes) || output.classes.length === 0)
    fail('"output.classes" must list the classes');
  if (typeof c.preprocessing !== 'object' || c.preprocessing === null) fail('"preprocessing" is missing');
  const up = (output as { upsample?: unknown } | undefined)?.upsample;
  if (up !== undefined && up !== 'nearest-mask' && up !== 'bilinear-probability')
    fail(`"output.upsample" must be nearest-mask or bilinear-probability, not ${JSON.stringify(up)}`);
  if (c.task === 'grading') checkGradingCard(c as unknown as ModelCard, fail);
  if (c.task === 'slice-gate') checkGateCard(c as unknown as ModelCard, fail);
  return c as unknown as ModelCard;
}

/** The grader's names, re-exported for the card check (defined once in @lumbar/core). */
export { GRADING_OUTPUTS } from '@lumbar/core';

/**
 * A grading card (models/sag-grading) must say what the pipeline relies on: the 2 or 3 x 64 x 64 input of
 * packages/imaging gradingInput, the 11 named outputs (any order: they are looked up by name), and a
 * threshold in [0, 1] for every binary task.
 */
function checkGradingCard(c: ModelCard, fail: (why: string) => never): void {
  const [, ch, h, w] = c.input.shape;
  if ((ch !== 2 && ch !== 3) || h !== 64 || w !== 64)
    fail(
      `a grading model takes [N, 2 or 3, 64, 64], its "input.shape" says ${JSON.stringify(c.input.shape)}`,
    );
  const classes = c.output.classes;
  const missing = GRADING_OUTPUTS.filter((k) => !classes.includes(k));
  if (classes.length !== GRADING_OUTPUTS.length || missing.length || new Set(classes).size !== classes.length)
    fail(
      `a grading model has ${GRADING_OUTPUTS.length} outputs (${GRADING_OUTPUTS.join(', ')}); ` +
        `"output.classes" says ${JSON.stringify(classes)}`,
    );
  const shape = c.output.shape;
  if (Array.isArray(shape) && shape.length >= 2 && shape[1] !== GRADING_OUTPUTS.length)
    fail(`"output.shape" must be [N, ${GRADING_OUTPUTS.length}], not ${JSON.stringify(shape)}`);
  const t = c.output.thresholds;
  if (typeof t !== 'object' || t === null) fail('"output.thresholds" must give a threshold per binary task');
  for (const k of GRADING_TASKS) {
    const v = (t as Record<string, unknown>)[k];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      fail(`"output.thresholds.${k}" must be a number from 0 to 1, not ${JSON.stringify(v)}`);
  }
}

/** The axial slice gate's outputs (training/slice_gate.py OUTPUTS), in this order. */
export const GATE_OUTPUTS = ['not_disc', 't2'] as const;

/**
 * A slice-gate card (models/ax-slice-gate) must say what the pipeline relies on: a [N, C, 64, 64] input whose
 * channels are the windows `preprocessing.contexts_tenths` lists (packages/imaging gateInput), the outputs
 * not_disc and t2 in that order, and a threshold in [0, 1] for each.
 */
function checkGateCard(c: ModelCard, fail: (why: string) => never): void {
  const [, ch, h, w] = c.input.shape;
  const contexts = (c.preprocessing as { contexts_tenths?: unknown }).contexts_tenths;
  if (
    !Array.isArray(contexts) ||
    contexts.length === 0 ||
    !contexts.every((v) => Number.isInteger(v) && v > 0)
  )
    fail('"preprocessing.contexts_tenths" must list positive integers');
  if (ch !== (contexts as number[]).length || h !== 64 || w !== 64)
    fail(
      `a slice gate takes [N, ${(contexts as number[]).length}, 64, 64], its "input.shape" says ${JSON.stringify(c.input.shape)}`,
    );
  if (JSON.stringify(c.output.classes) !== JSON.stringify(GATE_OUTPUTS))
    fail(`a slice gate's "output.classes" must be ${JSON.stringify(GATE_OUTPUTS)}`);
  const t = c.output.thresholds;
  if (typeof t !== 'object' || t === null) fail('"output.thresholds" must give not_disc and t2');
  for (const k of GATE_OUTPUTS) {
    const v = (t as Record<string, unknown>)[k];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      fail(`"output.thresholds.${k}" must be a number from 0 to 1, not ${JSON.stringify(v)}`);
  }
}

/** Channels, height and width of the model input. */
export function inputDims(card: ModelCard): [number, number, number] {
  const [, ch, h, w] = card.input.shape;
  return [Number(ch), Number(h), Number(w)];
}
