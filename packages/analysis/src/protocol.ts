import type { AnalysisOutcome, AnalyzeRequest } from './engine';
import type { WireError } from './errors';

/** Pool to analysis process. */
export type ParentMessage =
  | { type: 'analyze'; id: number; request: AnalyzeRequest }
  /** Finish the study in hand, close the models and exit. */
  | { type: 'close' };

/** Analysis process to pool. */
export type ChildMessage =
  | { type: 'ready'; pid: number; models: Record<string, { name: string; version: string }> }
  /** The models could not be loaded: the process exits after this. */
  | { type: 'fatal'; error: WireError }
  | ({ type: 'done'; id: number; rssBytes: number } & (
      { ok: true; outcome: AnalysisOutcome } | { ok: false; error: WireError }
    ));
