import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '@lumbar/core';
import { OnnxModel, SessionOptions } from './session';

/** The four shipped models, by role, and the folder under models/ each one lives in. */
export const MODEL_FOLDERS = {
  sagittalSeg: 'sag-seg-unet',
  axialSeg: 'ax-seg-unet',
  sagittalCls: 'sag-cls-discnet',
  axialCls: 'ax-cls-discnet',
} as const;

/**
 * Models the node works without: opened when their folder is there. sag-grading: the per-disc sagittal
 * grader learnt from SPIDER's radiological grades (training/grading.py).
 */
export const OPTIONAL_MODEL_FOLDERS = {
  sagittalGrading: 'sag-grading',
} as const;

/** The task each optional model's card must declare. */
const OPTIONAL_TASKS: Record<OptionalModelRole, string> = { sagittalGrading: 'grading' };

export type ModelRole = keyof typeof MODEL_FOLDERS;
export type OptionalModelRole = keyof typeof OPTIONAL_MODEL_FOLDERS;
export type ModelSet = Record<ModelRole, OnnxModel> & Partial<Record<OptionalModelRole, OnnxModel>>;

/**
 * Opens the four models once (sessions are reused for every study), and each optional model whose folder
 * exists; a folder that exists with a missing or malformed card is an error, not a silent skip.
 */
export async function openModelSet(modelsDir: string, opts: SessionOptions = {}): Promise<ModelSet> {
  const optional = (Object.keys(OPTIONAL_MODEL_FOLDERS) as OptionalModelRole[]).filter((role) =>
    existsSync(join(modelsDir, OPTIONAL_MODEL_FOLDERS[role])),
  );
  const opened = await Promise.allSettled([
    ...(Object.keys(MODEL_FOLDERS) as ModelRole[]).map(
      async (role) => [role, await OnnxModel.open(join(modelsDir, MODEL_FOLDERS[role]), opts)] as const,
    ),
    ...optional.map(async (role) => {
      const dir = join(modelsDir, OPTIONAL_MODEL_FOLDERS[role]);
      const m = await OnnxModel.open(dir, opts);
      if (m.card.task !== OPTIONAL_TASKS[role]) {
        await m.close();
        throw new InputError(`${dir}: its card's task is ${m.card.task}, not ${OPTIONAL_TASKS[role]}`);
      }
      return [role, m] as const;
    }),
  ]);
  const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const entries = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (failed) {
    await Promise.all(entries.map(([, m]) => m.close()));
    throw failed.reason;
  }
  return Object.fromEntries(entries) as ModelSet;
}

export async function closeModelSet(models: ModelSet): Promise<void> {
  await Promise.all(Object.values(models).map((m) => m?.close()));
}
