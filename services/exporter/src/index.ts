import { join } from 'node:path';
import type { ConnectionOptions } from 'bullmq';
import { exportTlsOptions, formatPeer, parsePeer } from '@lumbar/core';
import { audit, loadExport, markExportAttempt, markExportResult } from '@lumbar/db';
import { QUEUES, UnrecoverableError, Worker, metricsRecorder, type Job } from '@lumbar/jobs';
import type { WorkerDeps } from '@lumbar/worker';
import { classifySend } from './classify';
import { cStore } from './scu';

export { cStore, type SendResult } from './scu';
export { classifySend, isStored, type SendVerdict } from './classify';

/**
 * `export.send`: C-STORE the SEG, SR and key images of one analysis to one destination. A7xx (out of
 * resources), refused or dropped connections are retried with exponential backoff; A9xx/Cxxx answers, a
 * permanent association rejection or exhausted attempts mark the export failed (re-drivable by the API).
 */
export async function handleExportSend(deps: WorkerDeps, job: Job<{ exportId: number }>): Promise<string> {
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
  const files = e.analysis.outputs.map((o) => join(e.analysis.outputDir!, o.file));
  const sendStarted = performance.now(); // metrics hook (issue 18)
  const r = await cStore(
    files,
    peer,
    config.dicom.aeTitle,
    config.export.timeoutMs,
    exportTlsOptions(config.export.tls, formatPeer(peer)),
  );
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

/** The exporter: consumes the exports queue (a few sends at a time: each is one association). */
export function startExporter(deps: WorkerDeps, connection: ConnectionOptions): Worker {
  exportTlsOptions(deps.config.export.tls); // unreadable TLS files stop the start, naming the setting
  const worker = new Worker(
    QUEUES.exports,
    async (job: Job) => {
      if (job.name !== 'export.send') throw new Error(`no handler for job ${job.name}`);
      return handleExportSend(deps, job);
    },
    { connection, prefix: deps.queues.prefix, concurrency: 2 },
  );
  worker.on('error', (err) => deps.log.error({ err: err.message }, 'exporter error'));
  return worker;
}
