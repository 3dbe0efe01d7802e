import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseExecutionProviders, parseIntraOpThreads, type Config } from '@lumbar/core';
import type { ExecutionProvider } from '@lumbar/inference';
import { AnalysisError } from './errors';

/** The shipped models: `models/` at the root of the repository, unless LUMBAR_MODELS_DIR or --models says otherwise. */
export const DEFAULT_MODELS_DIR = resolve(__dirname, '..', '..', '..', 'models');

/** What an analysis process needs to load its models (plain data: it crosses the process boundary). */
export interface AnalysisSettings {
  modelsDir: string;
  providers: ExecutionProvider[];
  /** ONNX Runtime intra-op threads; null: the cores, at most 4. */
  intraOpThreads: number | null;
}

/**
 * The settings of each process of a worker's pool, from loadConfig's worker section. Without
 * LUMBAR_INTRA_OP_THREADS the cores are shared out between the pool's processes (at most 4 each): on 2 cores
 * two processes of 2 threads each analysed 79 studies a minute and two of 1 thread 126 (docs/BENCHMARKS.md).
 */
export function analysisSettings(
  worker: Config['worker'],
  cores: number = availableParallelism(),
): AnalysisSettings {
  const providers = parseExecutionProviders(worker.providers);
  const onGpu = providers.some((p) => p === 'cuda' || p === 'tensorrt');
  return {
    modelsDir: worker.modelsDir ?? DEFAULT_MODELS_DIR,
    providers,
    intraOpThreads:
      worker.intraOpThreads ??
      (onGpu ? null : Math.max(1, Math.min(4, Math.floor(cores / Math.max(1, worker.concurrency))))),
  };
}

/**
 * The settings of a command that runs the engine in its own process: each flag, where given, wins over its
 * variable (a bad flag or variable names both, e.g. "--threads / LUMBAR_INTRA_OP_THREADS").
 */
export function analysisSettingsFromFlags(
  flags: { models?: string; providers?: string; threads?: string },
  env: NodeJS.ProcessEnv = process.env,
): AnalysisSettings {
  return {
    modelsDir: flags.models ?? (env.LUMBAR_MODELS_DIR || DEFAULT_MODELS_DIR),
    providers: parseExecutionProviders(
      flags.providers ?? env.LUMBAR_EXECUTION_PROVIDERS,
      '--providers / LUMBAR_EXECUTION_PROVIDERS',
    ),
    intraOpThreads:
      parseIntraOpThreads(
        flags.threads ?? env.LUMBAR_INTRA_OP_THREADS,
        '--threads / LUMBAR_INTRA_OP_THREADS',
      ) ?? null,
  };
}

/** A models folder that cannot be read stops the engine before any model is opened. */
export function checkModelsFolder(dir: string): void {
  if (!existsSync(dir)) throw new AnalysisError('MODELS', `the models folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) {
    throw new AnalysisError('MODELS', `the models folder ${dir} is a file, not a folder`);
  }
}
