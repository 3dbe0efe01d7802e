import { AnalysisPool, analysisSettings } from '@lumbar/analysis';
import { findStudyReceiveState } from '@lumbar/db';
import {
  Worker,
  QUEUES,
  metricsRecorder,
  type Job,
  type JobName,
  type MetricsRecorder,
  type WorkerDeps,
} from '@lumbar/jobs';
import type { ConnectionOptions } from 'bullmq';
import { openObjectStore } from '@lumbar/storage';
import {
  bullQueueExport,
  handleStudy,
  type Analyzer,
  type StudyHandlerDeps,
  type StudyJob,
} from './study-handler';
import { prismaStudyStore } from './store';

export { reconcile, startReconciler } from './reconciler';
export {
  handleStudy,
  queuePendingExports,
  bullQueueExport,
  type Analyzer,
  type StudyHandlerDeps,
  type StudyJob,
} from './study-handler';
export { prismaStudyStore, type StudyStore } from './store';
export type { WorkerDeps } from '@lumbar/jobs';

type Handler = (deps: StudyHandlerDeps, job: StudyJob) => Promise<string>;

/** One handler per job name of the studies queue; a name without a handler is refused at start. */
export const STUDY_HANDLERS: Partial<Record<JobName, Handler>> = {
  'study.stable': handleStudy,
  'study.reanalyze': handleStudy,
};

/**
 * Metrics hook (issue 18): the pool, timed. Every study it analyses goes into lumbar_analysis_duration_seconds
 * (a node stopping is not a failure: not recorded), and each stage of a successful analysis, as the engine
 * measured it (findings.timingsMs, less its totals), into lumbar_inference_duration_seconds.
 */
function timedAnalyzer(pool: AnalysisPool, metrics: MetricsRecorder): Analyzer {
  return {
    async analyze(request) {
      const t0 = performance.now();
      try {
        const outcome = await pool.analyze(request);
        metrics.observe('analysis', { outcome: 'succeeded' }, (performance.now() - t0) / 1000);
        for (const [stage, ms] of Object.entries(outcome.findings.timingsMs ?? {}))
          if (stage !== 'total' && stage !== 'wall') metrics.observe('inference', { stage }, ms / 1000);
        return outcome;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SHUTDOWN')
          metrics.observe('analysis', { outcome: 'failed' }, (performance.now() - t0) / 1000);
        throw err;
      }
    },
  };
}

/**
 * Metrics hook (issue 18): lumbar_study_receive_to_stable_seconds, from the study's last instance to now, for the
 * first attempt of a study.stable job of a study still receiving (not a retry, nor a study already analysed).
 * Not awaited: a metric never holds a study up.
 */
function observeReceiveToStable(deps: WorkerDeps, metrics: MetricsRecorder, studyId: number): void {
  findStudyReceiveState(deps.db, studyId)
    .then((s) => {
      if (s?.status === 'receiving')
        metrics.observe('receiveToStable', {}, (Date.now() - s.lastReceivedAt.getTime()) / 1000);
    })
    .catch(() => undefined);
}

/** The analysis worker of a node: a BullMQ consumer and the pool of analysis processes it feeds. */
export interface StudyWorker {
  worker: Worker;
  pool: AnalysisPool;
  /**
   * Stops taking studies; studies being analysed may finish for up to LUMBAR_SHUTDOWN_GRACE_MS, then their
   * processes are killed and the studies released (queued again); the pool's processes exit.
   */
  close(): Promise<void>;
}

/**
 * The analysis worker: starts the pool (LUMBAR_WORKER_CONCURRENCY processes, or one per GPU; each loads the
 * models once) and consumes the studies queue with as many studies at once as there are processes. This
 * event loop only passes messages, so BullMQ's lock renewals keep running while studies are analysed.
 * Rejects, with everything stopped, when the pool cannot start (an AnalysisError MODELS naming the folder).
 */
export async function startStudyWorker(
  deps: WorkerDeps,
  connection: ConnectionOptions,
): Promise<StudyWorker> {
  for (const name of ['study.stable', 'study.reanalyze'] as const) {
    if (!STUDY_HANDLERS[name]) throw new Error(`no handler for job ${name}: refusing to start`);
  }
  const w = deps.config.worker;
  const pool = await AnalysisPool.start({
    settings: analysisSettings(w),
    size: w.concurrency,
    timeoutMs: w.analysisTimeoutMs,
    memoryLimitMb: w.memoryLimitMb,
    retries: w.analysisRetries,
    gpuDevices: w.gpuDevices,
    log: deps.log,
  });
  const metrics = metricsRecorder(deps.queues);
  // LUMBAR_STORAGE=s3: instances from the bucket, outputs to it (study-handler.ts); fs: the data folder
  const objects = openObjectStore(deps.config.storage);
  const handlerDeps: StudyHandlerDeps = {
    objects,
    config: deps.config,
    log: deps.log,
    store: prismaStudyStore(deps.db),
    analyzer: timedAnalyzer(pool, metrics),
    queueExport: bullQueueExport(deps),
  };
  const worker = new Worker(
    QUEUES.studies,
    async (job: Job) => {
      const handler = STUDY_HANDLERS[job.name as JobName];
      if (!handler) throw new Error(`no handler for job ${job.name}`);
      if (job.name === 'study.stable' && job.attemptsMade === 0)
        observeReceiveToStable(deps, metrics, (job.data as { studyId: number }).studyId);
      return handler(handlerDeps, job as Job<{ studyId: number }>);
    },
    {
      connection,
      prefix: deps.queues.prefix,
      concurrency: pool.size,
      lockDuration: 60_000,
    },
  );
  worker.on('error', (err) => deps.log.error({ err: err.message }, 'study worker error'));
  worker.on('failed', (job, err) =>
    deps.log.warn({ jobId: job?.id, name: job?.name, err: err.message }, 'study job failed'),
  );
  let closing: Promise<void> | null = null;
  return {
    worker,
    pool,
    close: () =>
      (closing ??= (async () => {
        // both at once: BullMQ stops fetching and waits for the running handlers, which the pool lets
        // finish for the grace period and then answers with SHUTDOWN (the handler releases the study)
        await Promise.all([worker.close(), pool.close({ graceMs: w.shutdownGraceMs })]);
        objects?.close();
      })()),
  };
}
