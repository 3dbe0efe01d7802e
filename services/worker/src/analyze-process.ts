import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';

/** The `lumbar` command this worker runs: the same CLI a person runs, in its own process. */
export function cliMainPath(): string {
  return join(dirname(require.resolve('@lumbar/cli/package.json')), 'dist', 'main.js');
}

export interface AnalyzeRun {
  /** 0 success, 2 bad input (the study cannot be analysed), anything else a failure worth a retry. */
  code: number | null;
  timedOut: boolean;
  /** The last lines of stderr: the sentence the CLI prints on bad input. */
  stderr: string;
}

/**
 * Runs `lumbar analyze STUDY_DIR --out OUT_DIR` in a child process: decoding and inference (CPU-heavy,
 * seconds) never block this event loop, so BullMQ lock renewals continue; a hung decoder is killed at the
 * timeout; memory is returned when the process ends.
 */
export function runAnalyzeProcess(
  studyDir: string,
  outDir: string,
  opts: { timeoutMs: number; modelsDir: string | null; providers: string; intraOpThreads?: number | null },
): Promise<AnalyzeRun> {
  const args = [cliMainPath(), 'analyze', studyDir, '--out', outDir, '--providers', opts.providers];
  if (opts.modelsDir) args.push('--models', opts.modelsDir);
  if (opts.intraOpThreads) args.push('--threads', String(opts.intraOpThreads));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, timedOut, stderr: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, stderr: stderr.trim() });
    });
  });
}
