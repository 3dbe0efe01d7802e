import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkModelsDir,
  createLogger,
  databaseUrlVariable,
  loadConfig,
  LumbarError,
  redactUrl,
  redisUrlVariable,
  type Config,
  type Logger,
} from '@lumbar/core';
import { applyMigrations, ensureDatabase, openDb, waitForPostgres } from '@lumbar/db';
import { openQueues, redisConnection, startProcessGauges, waitForRedis, type WorkerDeps } from '@lumbar/jobs';
import { checkObjectStore } from '@lumbar/storage';
import { startApi } from '@lumbar/api';
import { startExporter } from '@lumbar/exporter';
import { startReceiver } from '@lumbar/receiver';
import { startReconciler, startStudyWorker } from '@lumbar/worker';

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

/** A start-up that cannot go on: `lumbar serve` exits 2 with this sentence (LumbarError). */
export class StartupError extends LumbarError {
  constructor(message: string) {
    super('STARTUP', message);
    this.name = 'StartupError';
  }
}

const errorText = (err: unknown): string => {
  if (err instanceof AggregateError && err.errors.length) return errorText(err.errors[0]);
  return err instanceof Error ? err.message || String((err as { code?: string }).code ?? err) : String(err);
};

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (a port below 1024 needs privileges)',
  EADDRNOTAVAIL: 'no such address on this machine',
  ENOTFOUND: 'no such host',
};

/** "cannot listen on HOST:PORT for WHAT (VARIABLE): reason", naming the host variable when the host is at fault. */
function listenError(
  err: unknown,
  what: string,
  host: string,
  port: number,
  vars: [string, string],
): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (!code || !(code in LISTEN_ERRORS)) return err;
  const variable = code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' ? vars[0] : vars[1];
  return new StartupError(
    `cannot listen on ${host}:${port} for ${what} (${variable}): ${LISTEN_ERRORS[code]}`,
  );
}

/** Runs a start-up step; an error that is not already a sentence (LumbarError) becomes "cannot WHAT: reason". */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LumbarError) throw err;
    throw new StartupError(`cannot ${what}: ${errorText(err)}`);
  }
}

/**
 * Starts the named services in this process with one configuration (`lumbar serve`, `npm start`). A small
 * site runs all four together; a larger one runs workers on other machines (`lumbar serve worker`).
 *
 * Start-up is all or nothing: settings are checked first (loadConfig, the models folder), then PostgreSQL and
 * Redis are reached within a few seconds each, then the API, receiver, worker and exporter start in that
 * order. Any failure closes everything already opened and rejects with a StartupError or ConfigError whose
 * sentence names the cause and the variable or port (docs/CONFIGURATION.md, "Start-up failures").
 */
export async function serve(
  services: readonly ServiceName[] = SERVICES,
  env: NodeJS.ProcessEnv = process.env,
  opts: { connectTimeoutMs?: number } = {},
): Promise<Running> {
  const config = loadConfig(env);
  if (services.includes('worker')) checkModelsDir(config);
  const log = createLogger('lumbar', config.logLevel);
  const timeoutMs = opts.connectTimeoutMs ?? 5000;
  const dbWhere = `PostgreSQL at ${redactUrl(config.databaseUrl)} (${databaseUrlVariable(env)})`;
  const redisWhere = `Redis at ${redactUrl(config.redisUrl)} (${redisUrlVariable(env)})`;
  const migrate = env.LUMBAR_MIGRATE_ON_START !== 'false';

  await step(`reach ${dbWhere}`, () =>
    waitForPostgres(config.databaseUrl, { timeoutMs, missingDatabaseOk: migrate }),
  );
  await step(`reach ${redisWhere}`, () => waitForRedis(config.redisUrl, timeoutMs));
  if (config.storage.kind === 's3') {
    const { bucket, prefix, endpoint } = config.storage.s3;
    const where = `s3://${bucket}/${prefix} at ${endpoint ?? 'AWS S3'} (LUMBAR_S3_BUCKET, LUMBAR_S3_ENDPOINT)`;
    await step(`reach the object store ${where}`, () =>
      checkObjectStore(config.storage).catch((err: unknown) => {
        throw new Error((err as Error).message); // a plain reason: step() names the bucket and the settings
      }),
    );
  }
  if (migrate) {
    await step(`prepare the database at ${dbWhere}`, async () => {
      await ensureDatabase(config.databaseUrl);
      const { applied } = await applyMigrations(config.databaseUrl);
      if (applied.length) log.info({ applied }, 'database migrations applied');
    });
  }

  // From here on everything opened is recorded, and closed again when a later step fails: services in the
  // order they were started (the receiver first on SIGTERM: no new work comes in), then queues, Redis, db.
  const serviceStops: { name: string; stop: () => Promise<void> | void }[] = [];
  const infraStops: (() => Promise<void> | void)[] = [];
  const ports: Running['ports'] = {};
  const closeAll = async () => {
    const order = [...serviceStops].sort((a, b) => STOP_ORDER.indexOf(a.name) - STOP_ORDER.indexOf(b.name));
    for (const s of order) {
      await Promise.resolve()
        .then(s.stop)
        .catch((err: unknown) => log.warn({ err: errorText(err), service: s.name }, 'stop failed'));
    }
    for (const s of infraStops.reverse()) {
      await Promise.resolve()
        .then(s)
        .catch((err: unknown) => log.warn({ err: errorText(err) }, 'close failed'));
    }
  };

  try {
    const db = openDb(config.databaseUrl);
    infraStops.push(() => db.$disconnect());
    const producer = redisConnection(config.redisUrl, 'producer');
    const blocking = redisConnection(config.redisUrl, 'worker');
    infraStops.push(() => {
      producer.disconnect();
      blocking.disconnect();
    });
    for (const r of [producer, blocking])
      r.on('error', (err) => log.warn({ err: err.message }, 'redis error'));
    await warnUnlessNoEviction(blocking, log);
    const queues = openQueues(producer, config.queuePrefix);
    infraStops.push(() => queues.close());
    queues.studies.on('error', (err) => log.warn({ err: err.message }, 'studies queue error'));
    queues.exports.on('error', (err) => log.warn({ err: err.message }, 'exports queue error'));
    const deps: WorkerDeps = { config, db, queues, log };

    if (services.includes('api')) {
      const api = await startApi({
        config,
        db,
        queues,
        redis: producer,
        log: log.child({ service: 'api' }),
      }).catch((err: unknown) => {
        throw listenError(err, 'the API', config.api.host, config.api.port, [
          'LUMBAR_API_HOST',
          'LUMBAR_API_PORT',
        ]);
      });
      ports.api = api.port;
      serviceStops.push({ name: 'api', stop: () => api.close() });
    }
    if (services.includes('receiver')) {
      await sweepIncoming(config.dataDir, log.child({ service: 'receiver' }));
      const rx = await startReceiver({ config, db, queues, log: log.child({ service: 'receiver' }) }).catch(
        (err: unknown) => {
          throw listenError(err, 'DICOM', config.dicom.host, config.dicom.port, [
            'LUMBAR_DICOM_HOST',
            'LUMBAR_DICOM_PORT',
          ]);
        },
      );
      ports.dicom = rx.port;
      serviceStops.push({ name: 'receiver', stop: async () => void (await rx.close()) });
    }
    let analysisProcesses: (() => { peakRssMb: number }[]) | undefined;
    if (services.includes('worker')) {
      const w = await startStudyWorker({ ...deps, log: log.child({ service: 'worker' }) }, blocking);
      analysisProcesses = () => w.pool.stats().processes;
      serviceStops.push({ name: 'worker', stop: () => w.close() });
      const stopReconciler = startReconciler({ ...deps, log: log.child({ service: 'reconciler' }) });
      serviceStops.push({ name: 'reconciler', stop: stopReconciler });
    }
    if (services.includes('exporter')) {
      const x = startExporter({ ...deps, log: log.child({ service: 'exporter' }) }, blocking);
      serviceStops.push({ name: 'exporter', stop: () => x.close() });
    }
    // metrics hook (issue 18): this process's memory (and its analysis processes') for the API's /metrics
    serviceStops.push({ name: 'metrics', stop: startProcessGauges(queues, services, analysisProcesses) });
  } catch (err) {
    await closeAll();
    if (err instanceof LumbarError) throw err;
    throw new StartupError(`cannot start: ${errorText(err)}`);
  }
  log.info({ services, ports }, 'lumbar-ai started');

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('stopping');
      await closeAll();
      log.info('stopped');
    })());
  return { config, log, ports, stop };
}

/**
 * Removes the partial uploads a receiver left in `<data>/incoming` when it was killed (SIGKILL, a power cut,
 * the OOM killer) in the middle of a C-STORE. None of them was acknowledged: a C-STORE is answered only after
 * its file has left incoming/ for instances/ and its row is committed. Found by the fault suite
 * (test/faults/receiver-crash.fault.ts, docs/RELIABILITY.md): without this, every crash leaked a file.
 * Only files last written before this process started are removed, so that an upload another receiver on
 * the same data folder is writing right now is left alone.
 */
async function sweepIncoming(dataDir: string, log: Logger): Promise<void> {
  const dir = join(dataDir, 'incoming');
  const startedAt = Date.now() - process.uptime() * 1000;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // no incoming/ yet
  }
  let removed = 0;
  for (const name of names) {
    if (!name.endsWith('.part')) continue;
    const file = join(dir, name);
    try {
      if ((await stat(file)).mtimeMs >= startedAt) continue;
      await rm(file, { force: true });
      removed++;
    } catch {
      /* gone meanwhile */
    }
  }
  if (removed) log.warn({ removed }, 'partial uploads of an earlier, interrupted run removed from incoming/');
}

/** Graceful stop: the receiver stops taking associations first, the API next, then the consumers. */
const STOP_ORDER = ['receiver', 'api', 'reconciler', 'worker', 'exporter'];

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
