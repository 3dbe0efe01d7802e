import { findExportsOwed, findStudiesOwedAnalysis, markLostSendsPending } from '@lumbar/db';
import { armStudy, type WorkerDeps } from '@lumbar/jobs';
import { bullQueueExport, queuePendingExports } from './study-handler';
import { prismaStudyStore } from './store';

/**
 * Postgres is the source of truth; Redis can lose jobs (a restart without persistence, an eviction). This
 * finds work the database says is owed and re-queues it; job ids and deduplication make that harmless when
 * the job was not lost after all.
 */
export async function reconcile(
  deps: WorkerDeps,
  now = new Date(),
): Promise<{ studies: number; exports: number }> {
  const { db, config } = deps;
  const quietBefore = new Date(now.getTime() - (config.stableSeconds + 5) * 1000);
  const lostBefore = new Date(now.getTime() - 2 * config.worker.analysisTimeoutMs);
  const studies = await findStudiesOwedAnalysis(db, { quietBefore, lostBefore });
  for (const s of studies) await armStudy(deps.queues, s.id, 0);
  // A pending export may only be waiting in BullMQ for its backoff: attempt n failed, the export went back to
  // pending, and BullMQ runs attempt n+1 backoffMs * 2^(n-1) later. It is lost only once it has been pending
  // for longer than the longest such wait (the one before the last attempt) and the quiet period; re-queued
  // sooner, a second job with a fresh attempt budget ran beside the first: more attempts than
  // LUMBAR_EXPORT_ATTEMPTS, and a failed export brought back to pending (test/faults/pacs-down.fault.ts).
  const longestBackoffMs = Math.min(
    config.export.backoffMs * 2 ** Math.max(config.export.attempts - 2, 0),
    24 * 3600_000,
  );
  const pendingBefore = new Date(quietBefore.getTime() - longestBackoffMs);
  const exportsOwed = await findExportsOwed(db, {
    pendingBefore,
    sendingBefore: new Date(now.getTime() - 2 * config.export.timeoutMs),
  });
  // A send that was lost mid-way goes back to pending, then is queued like any pending one.
  await markLostSendsPending(
    db,
    exportsOwed.map((e) => e.id),
  );
  let queuedExports = 0;
  const exportDeps = { store: prismaStudyStore(db), queueExport: bullQueueExport(deps) };
  for (const analysisId of new Set(exportsOwed.map((e) => e.analysisId))) {
    queuedExports += await queuePendingExports(exportDeps, analysisId);
  }
  return { studies: studies.length, exports: queuedExports };
}

/** Runs reconcile() every `reconcileSeconds`; returns a stop function. */
export function startReconciler(deps: WorkerDeps): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const r = await reconcile(deps);
      if (r.studies || r.exports) deps.log.info(r, 'reconciler re-queued work');
    } catch (err) {
      deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'reconciler failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), deps.config.reconcileSeconds * 1000);
  void tick();
  return () => clearInterval(timer);
}
