import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionOptions } from 'bullmq';
import { formatPeer, parsePeer } from '@lumbar/core';
import { audit, loadExport, markExportAttempt, markExportResult } from '@lumbar/db';
import { QUEUES, UnrecoverableError, Worker, metricsRecorder, type Job, type WorkerDeps } from '@lumbar/jobs';
import { isObjectLocation, openObjectStore, type ObjectStore } from '@lumbar/storage';
import { classifySend } from './classify';
import { cStore } from './scu';
import { exportTlsOptions } from './tls';

export { cStore, type SendResult } from './scu';
export { classifySend, isStored, type SendVerdict } from './classify';
export { exportTlsOptions } from './tls';

/**
 * `export.send`: C-STORE the SEG, SR and key images of one analysis to one destination. A7xx (out of
 * resources), refused or dropped connections are retried with exponential backoff; A9xx/Cxxx answers, a
 * permanent association rejection or exhausted attempts mark the export failed (re-drivable by the API).
 * Outputs in the bucket (LUMBAR_STORAGE=s3, `objects`) are fetched to a scratch folder for the send.
 */
export async function handleExportSend(
  deps: WorkerDeps,
  job: Job<{ exportId: number }>,
  objects: ObjectStore | null = null,
): Promise<string> {
  const { db, config, log } = deps;
  const e = await loadExport(db, job.data.exportId);
  if (!e) throw new UnrecoverableError(`export ${job.data.exportId} does not exist`);
  if (e.status === 'succeeded') return 'already sent';
  // A failed export is re-driven only through resetExport (POST /exports/:id/retry), which makes it pending
  // first: a job that finds it failed is a stale duplicate and must not bring it back to life.
  if (e.status === 'failed') return 'failed: not sent again (POST /exports/:id/retry re-drives it)';
  if (!e.analysis.outputDir) throw new UnrecoverableError(`analysis ${e.analysisId} has no outputs`);
  const peer = parsePeer(e.destination);
  if (!peer) throw new UnrecoverableError(`destination "${e.destination}" is not AE@host:port`);
  await markExportAttempt(db, e.id);
  const outputDir = e.analysis.outputDir;
  const names = e.analysis.outputs.map((o) => o.file);
  let scratch: string | null = null;
  let files = names.map((f) => join(outputDir, f));
  if (isObjectLocation(outputDir)) {
    scratch = join(config.dataDir, 'work', `export-${e.id}-${job.id ?? 'job'}-${job.attemptsMade}`);
    try {
      files = await fetchOutputs(objects, outputDir, names, scratch);
    } catch (err) {
      await rm(scratch, { recursive: true, force: true });
      const why = `cannot fetch the outputs: ${err instanceof Error ? err.message : String(err)}`;
      const permanent = err instanceof UnrecoverableError; // not this node's store: no retry will help
      const final = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      await markExportResult(db, e.id, { ok: false, final, status: null, error: why });
      log.warn({ exportId: e.id, destination: e.destination, why, final }, 'export failed');
      throw permanent ? new UnrecoverableError(why) : new Error(why);
    }
  }
  const sendStarted = performance.now(); // metrics hook (issue 18)
  const r = await cStore(
    files,
    peer,
    config.dicom.aeTitle,
    config.export.timeoutMs,
    exportTlsOptions(config.export.tls, formatPeer(peer)),
  ).finally(() => (scratch ? rm(scratch, { recursive: true, force: true }) : undefined));
  const verdict = classifySend(
    r,
    e.analysis.outputs.map((o) => o.file),
    { made: job.attemptsMade, allowed: job.opts.attempts ?? 1 },
  );
  // metrics hook (issue 18): attempts, failed attempts and each attempt's time, by destination
  const metrics = metricsRecorder(deps.queues);
  const destination = e.destination;
  metrics.inc('exportAttempts', { destination });
  metrics.observe(
    'exportDuration',
    { destination, outcome: verdict.ok ? 'succeeded' : 'failed' },
    (performance.now() - sendStarted) / 1000,
  );
  if (!verdict.ok) metrics.inc('exportFailures', { destination, final: String(verdict.final) });
  if (verdict.ok) {
    await markExportResult(db, e.id, { ok: true, final: true, status: 0 });
    await audit(db, { actor: 'exporter', action: 'export.sent', subjectType: 'export', subjectId: e.id });
    log.info({ exportId: e.id, destination: e.destination, objects: files.length }, 'export sent');
    return `sent ${files.length} objects to ${e.destination}`;
  }
  const { retryable, final, status, why } = verdict;
  await markExportResult(db, e.id, { ok: false, final, status, error: why });
  log.warn({ exportId: e.id, destination: e.destination, why, final }, 'export failed');
  if (final) {
    await audit(db, {
      actor: 'exporter',
      action: 'export.failed',
      subjectType: 'export',
      subjectId: e.id,
      details: { why },
    });
  }
  throw retryable ? new Error(why) : new UnrecoverableError(why);
}

/**
 * LUMBAR_STORAGE=s3: copies an analysis' outputs (`outputDir` is `s3://bucket/<prefix>outputs/<study>/<analysis>`)
 * into `dir`; returns their paths in the order of `names`.
 */
async function fetchOutputs(
  objects: ObjectStore | null,
  outputDir: string,
  names: string[],
  dir: string,
): Promise<string[]> {
  const key = objects?.keyOf(outputDir);
  if (!objects || !key)
    throw new UnrecoverableError(
      `the outputs are in ${outputDir}, which is not this node's object store (LUMBAR_STORAGE, LUMBAR_S3_BUCKET, LUMBAR_S3_PREFIX)`,
    );
  const files = names.map((_, i) => join(dir, `${i}.dcm`));
  await Promise.all(names.map((name, i) => objects.getToFile(`${key}/${name}`, files[i])));
  return files;
}

/** The exporter: consumes the exports queue (a few sends at a time: each is one association). */
export function startExporter(deps: WorkerDeps, connection: ConnectionOptions): Worker {
  exportTlsOptions(deps.config.export.tls); // unreadable TLS files stop the start, naming the setting
  // LUMBAR_STORAGE=s3: the outputs are read from the bucket; fs: from the data folder
  const objects = openObjectStore(deps.config.storage);
  const worker = new Worker(
    QUEUES.exports,
    async (job: Job) => {
      if (job.name !== 'export.send') throw new Error(`no handler for job ${job.name}`);
      return handleExportSend(deps, job, objects);
    },
    { connection, prefix: deps.queues.prefix, concurrency: 2 },
  );
  worker.on('error', (err) => deps.log.error({ err: err.message }, 'exporter error'));
  worker.on('closed', () => objects?.close());
  return worker;
}
