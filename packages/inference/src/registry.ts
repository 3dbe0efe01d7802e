import { join } from 'node:path';
import { OnnxModel, SessionOptions } from './session';

/** The four shipped models, by role, and the folder under models/ each one lives in. */
export const MODEL_FOLDERS = {
  sagittalSeg: 'sag-seg-unet',
  axialSeg: 'ax-seg-unet',
  sagittalCls: 'sag-cls-discnet',
  axialCls: 'ax-cls-discnet',
} as const;

export type ModelRole = keyof typeof MODEL_FOLDERS;
export type ModelSet = Record<ModelRole, OnnxModel>;

/** Opens the four models once (sessions are reused for every study). */
export async function openModelSet(modelsDir: string, opts: SessionOptions = {}): Promise<ModelSet> {
  const entries = await Promise.all(
    (Object.keys(MODEL_FOLDERS) as ModelRole[]).map(
      async (role) => [role, await OnnxModel.open(join(modelsDir, MODEL_FOLDERS[role]), opts)] as const,
    ),
  );
  return Object.fromEntries(entries) as ModelSet;
}

export async function closeModelSet(models: ModelSet): Promise<void> {
  await Promise.all(Object.values(models).map((m) => m.close()));
}
