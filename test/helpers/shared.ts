import { existsSync } from 'node:fs';
import path from 'node:path';

/** The repository root (this file is test/helpers/shared.ts). */
export const repoRoot = path.resolve(__dirname, '..', '..');

/**
 * The shared data folder: LUMBAR_SHARED_DIR if set, else `../shared` beside the repository root (where
 * it lies for developers and for CI's fresh clone). Read-only: copy what a test needs to change.
 */
export function sharedDir(): string {
  const dir = process.env.LUMBAR_SHARED_DIR ?? path.resolve(repoRoot, '..', 'shared');
  if (!existsSync(path.join(dir, 'data'))) {
    throw new Error(`shared data not found at ${dir}: set LUMBAR_SHARED_DIR to the folder holding data/`);
  }
  return dir;
}

/** A path inside the shared folder, e.g. sharedPath('data/dicom-samples/dcm_qa_ts/1.dcm'). */
export function sharedPath(...parts: string[]): string {
  return path.join(sharedDir(), ...parts);
}
