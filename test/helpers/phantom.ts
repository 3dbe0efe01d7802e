import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { runTool } from './run';
import { repoRoot } from './shared';

/** The built `lumbar` command (npx tsc -b builds it). */
export const cliMain = path.join(repoRoot, 'packages', 'cli', 'dist', 'main.js');

/** Runs `lumbar phantom --out DIR --studies N --seed S` and returns what it printed. */
export async function generatePhantom(outDir: string, seed: number, studies = 1): Promise<string> {
  if (!existsSync(cliMain)) throw new Error(`${cliMain} not found: build first (npx tsc -b)`);
  const args = [cliMain, 'phantom', '--out', outDir, '--studies', String(studies), '--seed', String(seed)];
  const run = await runTool(process.execPath, args, { cwd: repoRoot, timeoutMs: 300_000 });
  if (run.code !== 0) throw new Error(`lumbar phantom exited ${run.code}:\n${run.stderr}\n${run.stdout}`);
  return run.stdout;
}

/** The study folders a phantom run wrote: the subfolders of its --out folder. */
export function studyDirs(outDir: string): string[] {
  return readdirSync(outDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => path.join(outDir, e.name))
    .sort();
}
