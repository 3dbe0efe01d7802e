import { InputError } from '@lumbar/core';

/** The model card JSON written beside each ONNX file by `python -m training export`. */
export interface ModelCard {
  name: string;
  version: string;
  task: 'segmentation' | 'classification';
  view: 'sagittal' | 'axial';
  file: string;
  input: { name: string; shape: Array<number | null>; layout: 'NCHW'; dtype: 'float32' };
  output: {
    name: string;
    shape: Array<number | null>;
    activation: 'sigmoid' | 'softmax';
    classes: string[];
    threshold: number | null;
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
  if (c.task !== 'segmentation' && c.task !== 'classification')
    fail('"task" must be segmentation or classification');
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
  return c as unknown as ModelCard;
}

/** Channels, height and width of the model input. */
export function inputDims(card: ModelCard): [number, number, number] {
  const [, ch, h, w] = card.input.shape;
  return [Number(ch), Number(h), Number(w)];
}
