import { Worker, QUEUES, type Job, type JobName } from '@lumbar/jobs';
import type { ConnectionOptions } from 'bullmq';
import { handleStudy } from './study-handler';
import type { WorkerDeps } from './deps';

export { reconcile, startReconciler } from './reconciler';
export { handleStudy, queuePendingExports } from './study-handler';
export { runAnalyzeProcess, cliMainPath } from './analyze-process';
export type { WorkerDeps } from './deps';

type Handler = (deps: WorkerDeps, job: Job) => Promise<string>;

/** One handler per job name of the studies queue; a name without a handler is refused at start. */
export const STUDY_HANDLERS: Partial<Record<JobName, Handler>> = {
  'study.stable': handleStudy,
  'study.reanalyze': handleStudy,
};

/**
 * The analysis worker: consumes the studies queue. Inference runs in child processes (see
 * analyze-process.ts), so this event loop stays free and job locks are renewed.
 */
export function startStudyWorker(deps: WorkerDeps, connection: ConnectionOptions): Worker {
  for (const name of ['study.stable', 'study.reanalyze'] as const) {
    if (!STUDY_HANDLERS[name]) throw new Error(`no handler for job ${name}: refusing to start`);
  }
  const worker = new Worker(
    QUEUES.studies,
    async (job: Job) => {
      const handler = STUDY_HANDLERS[job.name as JobName];
      if (!handler) throw new Error(`no handler for job ${job.name}`);
      return handler(deps, job);
    },
    {
      connection,
      prefix: deps.queues.prefix,
      concurrency: deps.config.worker.concurrency,
      lockDuration: 60_000,
    },
  );
  worker.on('error', (err) => deps.log.error({ err: err.message }, 'study worker error'));
  worker.on('failed', (job, err) =>
    deps.log.warn({ jobId: job?.id, name: job?.name, err: err.message }, 'study job failed'),
  );
  return worker;
}
