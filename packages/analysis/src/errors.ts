import { LumbarError } from '@lumbar/core';

/**
 * Why an analysis did not give findings. Stable codes, for the worker's retry decision, the database and
 * people reading logs:
 * - `BAD_INPUT`: the study cannot be analysed as it is (no sagittal T2, unreadable files); trying again
 *   will not help.
 * - `MODELS`: the models folder cannot be loaded; the node's installation must be fixed.
 * - `TIMEOUT`, `CRASHED`, `OUT_OF_MEMORY`: the analysis process ran too long, died or grew past its memory
 *   limit; it was killed and replaced, and the study may be tried again.
 * - `SHUTDOWN`: the pool was closed while the study waited or ran; the study is released, not failed.
 * - `INVALID_OUTPUT`: the findings broke their schema (a defect of ours); not retried.
 * - `INTERNAL`: anything else that went wrong inside the analysis.
 */
export const ANALYSIS_ERROR_CODES = [
  'BAD_INPUT',
  'MODELS',
  'TIMEOUT',
  'CRASHED',
  'OUT_OF_MEMORY',
  'SHUTDOWN',
  'INVALID_OUTPUT',
  'INTERNAL',
] as const;
export type AnalysisErrorCode = (typeof ANALYSIS_ERROR_CODES)[number];

const RETRYABLE: ReadonlySet<AnalysisErrorCode> = new Set([
  'TIMEOUT',
  'CRASHED',
  'OUT_OF_MEMORY',
  'SHUTDOWN',
  'INTERNAL',
]);

/** The one error the engine and the pool throw: a code and a sentence a person can act on. */
export class AnalysisError extends LumbarError {
  declare readonly code: AnalysisErrorCode;
  constructor(code: AnalysisErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'AnalysisError';
  }

  /** Whether trying the same study again may succeed. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  /** The plain-object form that crosses the process boundary (IPC). */
  toWire(): WireError {
    return { code: this.code, message: this.message };
  }

  static fromWire(w: WireError): AnalysisError {
    const code = (ANALYSIS_ERROR_CODES as readonly string[]).includes(w.code)
      ? (w.code as AnalysisErrorCode)
      : 'INTERNAL';
    return new AnalysisError(code, String(w.message));
  }

  /**
   * Any error thrown while analysing, as an AnalysisError: our input errors (LumbarError BAD_INPUT or
   * NOT_FOUND) keep their sentence as BAD_INPUT; anything unexpected becomes INTERNAL with its message.
   */
  static from(err: unknown): AnalysisError {
    if (err instanceof AnalysisError) return err;
    if (err instanceof LumbarError && (err.code === 'BAD_INPUT' || err.code === 'NOT_FOUND')) {
      return new AnalysisError('BAD_INPUT', err.message, err.details);
    }
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') {
      return new AnalysisError('BAD_INPUT', message);
    }
    return new AnalysisError('INTERNAL', `unexpected error in the analysis: ${message}`, {
      stack: err instanceof Error ? err.stack : undefined,
    });
  }
}

export interface WireError {
  code: string;
  message: string;
}
