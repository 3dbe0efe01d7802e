import { existsSync, readFileSync } from 'node:fs';
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
  axialGate: 'ax-slice-gate',
} as const;

/** The task each optional model's card must declare. */
const OPTIONAL_TASKS: Record<OptionalModelRole, string> = {
  sagittalGrading: 'grading',
  axialGate: 'slice-gate',
};

export type ModelRole = keyof typeof MODEL_FOLDERS;
export type OptionalModelRole = keyof typeof OPTIONAL_MODEL_FOLDERS;
export type ModelSet = Record<ModelRole, OnnxModel> &
  Partial<Record<OptionalModelRole, OnnxModel>> & { axialOod?: OodModelFile };

/** Where the out-of-distribution check of axial crops lives under the models folder (training/ood.py writes it). */
export const OOD_FILE = join('ax-ood', 'ood.json');
const OOD_FORMAT = 'ax-ood/ppca-mahalanobis/1';

/**
 * models/ax-ood/ood.json as the pipeline uses it (packages/pipeline/src/ood.ts OodModel, the same shape): the
 * feature size, the PCA's mean, components and variances, the residual variance and the threshold.
 */
export interface OodModelFile {
  card: { name: string; version: string };
  size: number;
  mean: number[];
  components: number[][];
  variances: number[];
  residualVariance: number;
  threshold: number;
}

/** Reads and checks models/ax-ood/ood.json; null when the file is not there, an error naming it when malformed. */
export function readOodModel(modelsDir: string): OodModelFile | null {
  const file = join(modelsDir, OOD_FILE);
  if (!existsSync(file)) return null;
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const bad = (what: string) => new InputError(`${file}: ${what}`);
  if (j.format !== OOD_FORMAT) throw bad(`format is ${String(j.format)}, not ${OOD_FORMAT}`);
  const nums = (v: unknown, n: number) =>
    Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  const size = (j.features as { size?: unknown } | undefined)?.size;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1)
    throw bad('features.size is not a positive integer');
  const dim = size * size;
  const k = Array.isArray(j.components) ? j.components.length : 0;
  if (!nums(j.mean, dim)) throw bad(`mean is not ${dim} numbers`);
  if (k < 1 || !(j.components as unknown[]).every((c) => nums(c, dim)))
    throw bad(`components are not rows of ${dim} numbers`);
  if (!nums(j.variances, k) || !(j.variances as number[]).every((v) => v > 0))
    throw bad(`variances are not ${k} positive numbers`);
  for (const key of ['residualVariance', 'threshold'] as const)
    if (typeof j[key] !== 'number' || !Number.isFinite(j[key]) || (key === 'residualVariance' && j[key] <= 0))
      throw bad(`${key} is not a ${key === 'residualVariance' ? 'positive ' : ''}number`);
  if (typeof j.name !== 'string' || typeof j.version !== 'string') throw bad('name or version missing');
  return {
    card: { name: j.name, version: j.version },
    size,
    mean: j.mean as number[],
    components: j.components as number[][],
    variances: j.variances as number[],
    residualVariance: j.residualVariance as number,
    threshold: j.threshold as number,
  };
}

/**
 * Opens the four models once (sessions are reused for every study), and each optional model whose folder
 * exists; a folder that exists with a missing or malformed card is an error, not a silent skip. The axial
 * out-of-distribution check (models/ax-ood/ood.json, plain JSON) is read when it is there.
 */
export async function openModelSet(modelsDir: string, opts: SessionOptions = {}): Promise<ModelSet> {
  const ood = readOodModel(modelsDir);
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
  return { ...(Object.fromEntries(entries) as unknown as ModelSet), ...(ood ? { axialOod: ood } : {}) };
}

export async function closeModelSet(models: ModelSet): Promise<void> {
  await Promise.all(Object.values(models).map((m) => (m && 'close' in m ? m.close() : undefined)));
}
