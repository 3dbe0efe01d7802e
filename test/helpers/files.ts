import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A new empty folder under the system temp dir. */
export function makeTmpDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `lumbar-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** All files under `dir` (recursive) whose name ends with `suffix`, sorted. */
export function findFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}
