import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ALGORITHM, formatPeer } from '@lumbar/core';
import {
  ensureAnalysis,
  markAnalysisFailed,
  markAnalysisRunning,
  saveAnalysisResult,
  type FindingInput,
  type OutputInput,
} from '@lumbar/db';
import { queueExport, UnrecoverableError, type Job } from '@lumbar/jobs';
import { runAnalyzeProcess } from './analyze-process';
import type { WorkerDeps } from './deps';

interface FindingsDocument {
  summary: string;
  levels: FindingInput[];
  dicom: OutputInput[];
}

/** Queues a send for every export of the analysis that is still pending (job ids make this idempotent). */
export async function queuePendingExports(deps: WorkerDeps, analysisId: number): Promise<number> {
  const pending = await deps.db.export.findMany({ where: { analysisId, status: 'pending' } });
  for (const e of pending) {
    await queueExport(deps.queues, e.id, {
      attempts: deps.config.export.attempts,
      backoffMs: deps.config.export.backoffMs,
      generation: String(e.updatedAt.getTime()),
    });
  }
  return pending.length;
}

/**
 * `study.stable` and `study.reanalyze`: analyse the study's stored instances in a child process, store
 * findings and the DICOM objects, queue one export per destination. Idempotent: a stable study already
 * analysed after its last instance is not analysed again (only its pending exports are re-queued); outputs
 * have deterministic UIDs, so a retry after a crash replaces rather than duplicates.
 */
export async function handleStudy(deps: WorkerDeps, job: Job<{ studyId: number }>): Promise<string> {
  const { db, config, log } = deps;
  const study = await db.study.findUnique({ where: { id: job.data.studyId } });
  if (!study) throw new UnrecoverableError(`study ${job.data.studyId} does not exist`);
  const analysis = await ensureAnalysis(db, study.id, ALGORITHM);
  const upToDate =
    analysis.status === 'succeeded' &&
    analysis.startedAt !== null &&
    analysis.startedAt >= study.lastReceivedAt;
  if (job.name === 'study.stable' && upToDate) {
    if (study.status !== 'analyzed') {
      await db.study.update({ where: { id: study.id }, data: { status: 'analyzed' } });
    }
    const n = await queuePendingExports(deps, analysis.id);
    return `already analysed; ${n} pending exports queued`;
  }
  await markAnalysisRunning(db, analysis.id, study.id);
  const studyDir = join(config.dataDir, 'instances', study.studyInstanceUid);
  const outRoot = join(config.dataDir, 'outputs', String(study.id));
  const tmp = join(outRoot, `.tmp-${analysis.id}-${job.id}-${job.attemptsMade}`);
  const final = join(outRoot, String(analysis.id));
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const run = await runAnalyzeProcess(studyDir, tmp, {
    timeoutMs: config.worker.analysisTimeoutMs,
    modelsDir: config.worker.modelsDir,
    providers: config.worker.providers,
    intraOpThreads: config.worker.intraOpThreads,
  });
  if (run.code !== 0) {
    await rm(tmp, { recursive: true, force: true });
    const why = run.timedOut
      ? `analysis timed out after ${config.worker.analysisTimeoutMs} ms`
      : run.stderr.split('\n').filter(Boolean).pop() || `lumbar analyze exited with ${run.code}`;
    const lastAttempt = run.code === 2 || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (lastAttempt) await markAnalysisFailed(db, analysis.id, study.id, why);
    log.warn({ studyId: study.id, code: run.code, why }, 'analysis failed');
    throw run.code === 2 ? new UnrecoverableError(why) : new Error(why);
  }
  const doc = JSON.parse(await readFile(join(tmp, 'findings.json'), 'utf8')) as FindingsDocument;
  if (existsSync(final)) await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  await saveAnalysisResult(
    db,
    { analysisId: analysis.id, studyId: study.id, summary: doc.summary, document: doc, outputDir: final },
    doc.levels.map((l) => ({
      level: l.level,
      diagnosis: l.diagnosis,
      probabilities: l.probabilities,
      reason: l.reason,
    })),
    doc.dicom.map((o) => ({
      kind: o.kind,
      view: o.view ?? null,
      file: o.file,
      sopClassUid: o.sopClassUid,
      sopInstanceUid: o.sopInstanceUid,
      seriesInstanceUid: o.seriesInstanceUid,
    })),
    config.destinations.map(formatPeer),
  );
  const n = await queuePendingExports(deps, analysis.id);
  log.info({ studyId: study.id, analysisId: analysis.id, exports: n }, 'study analysed');
  return doc.summary;
}
