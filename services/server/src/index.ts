import { createLogger, loadConfig, type Config, type Logger } from '@lumbar/core';
import { applyMigrations, ensureDatabase, openDb } from '@lumbar/db';
import { openQueues, redisConnection } from '@lumbar/jobs';
import { startApi } from '@lumbar/api';
import { startExporter } from '@lumbar/exporter';
import { startReceiver } from '@lumbar/receiver';
import { startReconciler, startStudyWorker, type WorkerDeps } from '@lumbar/worker';

export const SERVICES = ['receiver', 'worker', 'exporter', 'api'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface Running {
  config: Config;
  log: Logger;
  /** Ports actually bound (0 in the config picks a free one). */
  ports: { dicom?: number; api?: number };
  /** Graceful stop: stop accepting, let running jobs finish, close queues, Redis and the database. */
  stop(): Promise<void>;
}

/**
 * Starts the named services in this process with one configuration (`lumbar serve`, `npm start`). A small
 * site runs all four together; a larger one runs workers on other machines (`lumbar serve worker`).
 */
export async function serve(
  services: readonly ServiceName[] = SERVICES,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Running> {
  const config = loadConfig(env);
  const log = createLogger('lumbar', config.logLevel);
  if (env.LUMBAR_MIGRATE_ON_START !== 'false') {
    await ensureDatabase(config.databaseUrl);
    const { applied } = await applyMigrations(config.databaseUrl);
    if (applied.length) log.info({ applied }, 'database migrations applied');
  }
  const db = openDb(config.databaseUrl);
  const producer = redisConnection(config.redisUrl, 'producer');
  const blocking = redisConnection(config.redisUrl, 'worker');
  for (const r of [producer, blocking]) r.on('error', (err) => log.warn({ err: err.message }, 'redis error'));
  await warnUnlessNoEviction(blocking, log);
  const queues = openQueues(producer, config.queuePrefix);
  queues.studies.on('error', (err) => log.warn({ err: err.message }, 'studies queue error'));
  queues.exports.on('error', (err) => log.warn({ err: err.message }, 'exports queue error'));
  const deps: WorkerDeps = { config, db, queues, log };
  const stops: (() => Promise<void> | void)[] = [];
  const ports: Running['ports'] = {};

  if (services.includes('receiver')) {
    const rx = await startReceiver({ config, db, queues, log: log.child({ service: 'receiver' }) });
    ports.dicom = rx.port;
    stops.push(() => rx.close());
  }
  if (services.includes('api')) {
    const api = await startApi({ config, db, queues, redis: producer, log: log.child({ service: 'api' }) });
    ports.api = api.port;
    stops.push(() => api.close());
  }
  if (services.includes('worker')) {
    const w = startStudyWorker({ ...deps, log: log.child({ service: 'worker' }) }, blocking);
    const stopReconciler = startReconciler({ ...deps, log: log.child({ service: 'reconciler' }) });
    stops.push(stopReconciler, () => w.close());
  }
  if (services.includes('exporter')) {
    const x = startExporter({ ...deps, log: log.child({ service: 'exporter' }) }, blocking);
    stops.push(() => x.close());
  }
  log.info({ services, ports }, 'lumbar-ai started');

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('stopping');
      for (const s of stops) await s();
      await queues.close();
      producer.disconnect();
      blocking.disconnect();
      await db.$disconnect();
      log.info('stopped');
    })());
  return { config, log, ports, stop };
}

async function warnUnlessNoEviction(redis: ReturnType<typeof redisConnection>, log: Logger): Promise<void> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy !== 'noeviction') {
      log.warn(
        { policy },
        'Redis maxmemory-policy is not noeviction: jobs can vanish (the reconciler re-queues them)',
      );
    }
  } catch {
    /* CONFIG may be disabled on managed Redis */
  }
}
