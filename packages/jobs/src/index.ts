import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { metricsRecorder } from './metrics';

export { UnrecoverableError, Worker, Queue, type Job } from 'bullmq';
// Metrics the receiver, worker and exporter record in Redis for the API's /metrics (see metrics.ts).
export * from './metrics';
// The dependencies of the job handlers (worker and exporter): shared here, no service imports another.
export type { WorkerDeps } from './deps';

/** Queue names. Payloads hold database ids only: no patient data ever goes to Redis. */
export const QUEUES = { studies: 'lumbar-studies', exports: 'lumbar-exports' } as const;

/** Every job the product runs, by name, with its payload: the worker refuses names it has no handler for. */
export interface JobPayloads {
  'study.stable': { studyId: number };
  'study.reanalyze': { studyId: number };
  'export.send': { exportId: number };
}
export type JobName = keyof JobPayloads;

/**
 * A Redis connection for BullMQ. `maxRetriesPerRequest: null` is what workers need (blocking commands);
 * producers fail fast instead (`enableOfflineQueue: false`): a receiver must answer A700 at once when Redis
 * is down, not hang the association.
 */
export function redisConnection(url: string, role: 'worker' | 'producer'): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    lazyConnect: false,
  });
}

/**
 * Start-up check: connects to Redis and PINGs it, trying again for up to `timeoutMs` (a Redis that is still
 * starting); rejects with the last error after that. Leaves no connection open either way.
 */
export async function waitForRedis(url: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = Math.max(deadline - Date.now(), 1);
    const r = new Redis(url, {
      lazyConnect: true,
      connectTimeout: Math.min(left, 2000),
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      disconnectTimeout: 50, // (2 s by default: a timer that would hold a failed start-up)
    });
    let cause: Error | null = null; // "connect ECONNREFUSED …": connect() itself says "Connection is closed."
    r.on('error', (err: Error) => (cause ??= err));
    try {
      await r.connect();
      await r.ping();
      return;
    } catch (err) {
      if (Date.now() + 250 >= deadline) throw cause ?? err;
    } finally {
      r.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface Queues {
  prefix: string;
  studies: Queue;
  exports: Queue;
  close(): Promise<void>;
}

export function openQueues(connection: ConnectionOptions, prefix: string): Queues {
  const studies = new Queue(QUEUES.studies, { connection, prefix });
  // (not named `exports`: in CommonJS output that name is the module's own exports object)
  const exportQueue = new Queue(QUEUES.exports, { connection, prefix });
  const queues: Queues = {
    prefix,
    studies,
    exports: exportQueue,
    close: async () => {
      await metricsRecorder(queues).flush(); // the counts of the last moments, while Redis is still open
      await Promise.all([studies.close(), exportQueue.close()]);
    },
  };
  return queues;
}

const KEEP = { removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } } satisfies JobsOptions;

/**
 * Re-arms the one debounced `study.stable` job of a study: every stored instance pushes it `quietMs` further
 * (`reschedule`); one that arrives while the study is being analysed leaves one more run queued behind it
 * (`keepLastIfActive`). Inference never runs per instance.
 */
export async function armStudy(queues: Queues, studyId: number, quietMs: number): Promise<void> {
  await queues.studies.add('study.stable', { studyId } satisfies JobPayloads['study.stable'], {
    ...KEEP,
    delay: quietMs,
    attempts: 3,
    backoff: { type: 'exponential', delay: 10_000 },
    deduplication: { id: `study-${studyId}`, reschedule: true, keepLastIfActive: true },
  });
}

/** Queues one send of an export; `generation` (attempt budget number) keeps the job id deterministic. */
export async function queueExport(
  queues: Queues,
  exportId: number,
  opts: { attempts: number; backoffMs: number; generation?: string },
): Promise<void> {
  await queues.exports.add('export.send', { exportId } satisfies JobPayloads['export.send'], {
    ...KEEP,
    jobId: `export-${exportId}-${opts.generation ?? '0'}`,
    attempts: opts.attempts,
    backoff: { type: 'exponential', delay: opts.backoffMs },
  });
}
