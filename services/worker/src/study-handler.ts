import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AnalysisError, type AnalysisOutcome, type AnalyzeRequest } from '@lumbar/analysis';
import { ALGORITHM, formatPeer, type Config, type Logger } from '@lumbar/core';
import { queueExport, UnrecoverableError } from '@lumbar/jobs';
import {
  downloadPrefix,
  outputsKey,
  studyInstancesPrefix,
  uploadDir,
  type ObjectStore,
} from '@lumbar/storage';
import type { WorkerDeps } from '@lumbar/jobs';
import type { StudyStore } from './store';

/** Whatever analyses a study: the pool of analysis processes in production, an in-memory fake in unit tests. */
export interface Analyzer {
  analyze(request: AnalyzeRequest): Promise<AnalysisOutcome>;
}

/** Queues one send of an export (BullMQ in production). */
export type QueueExport = (exportId: number, generation: string) => Promise<void>;

/** The study handler's collaborators: no Prisma, no BullMQ, no processes of its own. */
export interface StudyHandlerDeps {
  config: Pick<Config, 'dataDir' | 'destinations'>;
  log: Pick<Logger, 'info' | 'warn'>;
  store: StudyStore;
  analyzer: Analyzer;
  queueExport: QueueExport;
  /**
   * LUMBAR_STORAGE=s3: the bucket the study's instances are fetched from (into a scratch folder of this
   * worker) and its outputs are put into (`outputs/<studyId>/<analysisId>/`); absent or null: the data folder.
   */
  objects?: ObjectStore | null;
}

/** The parts of a BullMQ job the handler reads. */
export interface StudyJob {
  id?: string;
  name: string;
  data: { studyId: number };
  attemptsMade: number;
  opts: { attempts?: number };
}

/** Queues a send for every export of the analysis that is still pending (job ids make this idempotent). */
export async function queuePendingExports(
  deps: Pick<StudyHandlerDeps, 'store' | 'queueExport'>,
  analysisId: number,
): Promise<number> {
  const pending = await deps.store.pendingExports(analysisId);
  for (const e of pending) await deps.queueExport(e.id, String(e.updatedAt.getTime()));
  return pending.length;
}

/** The BullMQ side of QueueExport, with the node's attempt budget and backoff. */
export function bullQueueExport(deps: Pick<WorkerDeps, 'queues' | 'config'>): QueueExport {
  return (exportId, generation) =>
    queueExport(deps.queues, exportId, {
      attempts: deps.config.export.attempts,
      backoffMs: deps.config.export.backoffMs,
      generation,
    });
}

/**
 * `study.stable` and `study.reanalyze`: analyse the study's stored instances (in the analysis pool), store
 * findings and the DICOM objects, queue one export per destination. Idempotent: a stable study already
 * analysed after its last instance is not analysed again (only its pending exports are re-queued); outputs
 * have deterministic UIDs, so a retry after a crash replaces rather than duplicates.
 *
 * Failures are the engine's typed errors: BAD_INPUT and INVALID_OUTPUT fail the study at once; TIMEOUT,
 * CRASHED, OUT_OF_MEMORY and INTERNAL are retried by the queue and fail it on the last attempt; SHUTDOWN
 * (the node stopped while it ran) releases the study to be analysed again, failing nothing.
 */
export async function handleStudy(deps: StudyHandlerDeps, job: StudyJob): Promise<string> {
  const { store, config, log } = deps;
  const t0 = performance.now();
  // both at once (one round trip less per study); an analysis row cannot be made for a study that is not there
  const [study, ensured] = await Promise.all([
    store.findStudy(job.data.studyId),
    store.ensureAnalysis(job.data.studyId, ALGORITHM).catch((err: unknown) => err as Error),
  ]);
  if (!study) throw new UnrecoverableError(`study ${job.data.studyId} does not exist`);
  if (ensured instanceof Error) throw ensured;
  const analysis = ensured;
  const upToDate =
    analysis.status === 'succeeded' &&
    analysis.startedAt !== null &&
    analysis.startedAt >= study.lastReceivedAt;
  if (job.name === 'study.stable' && upToDate) {
    if (study.status !== 'analyzed') await store.markStudyAnalyzed(study.id);
    const n = await queuePendingExports(deps, analysis.id);
    return `already analysed; ${n} pending exports queued`;
  }
  const objects = deps.objects ?? null;
  const attempt = `${analysis.id}-${job.id ?? 'job'}-${job.attemptsMade}`;
  // fs: the receiver's folder of the study, and outputs/<study>/<analysis> in the data folder. s3: a scratch
  // folder of this worker (work/), filled from the bucket; the outputs go back to the bucket, then it goes.
  const scratch = objects ? join(config.dataDir, 'work', `${study.id}-${attempt}`) : null;
  const studyDir = scratch
    ? join(scratch, 'instances')
    : join(config.dataDir, 'instances', study.studyInstanceUid);
  const outRoot = join(config.dataDir, 'outputs', String(study.id));
  const tmp = scratch ? join(scratch, 'outputs') : join(outRoot, `.tmp-${attempt}`);
  const final = objects
    ? objects.location(outputsKey(study.id, analysis.id))
    : join(outRoot, String(analysis.id));
  const cleanUp = () => rm(scratch ?? tmp, { recursive: true, force: true });
  await Promise.all([
    store.markAnalysisRunning(analysis.id, study.id),
    rm(scratch ?? tmp, { recursive: true, force: true }).then(() => mkdir(tmp, { recursive: true })),
  ]);
  let outcome: AnalysisOutcome;
  let fetched = 0;
  const tFetch = performance.now();
  let tAnalysis = tFetch;
  try {
    if (objects) fetched = await fetchInstances(objects, study.studyInstanceUid, studyDir);
    tAnalysis = performance.now();
    outcome = await deps.analyzer.analyze({ study: studyDir, outDir: tmp });
  } catch (err) {
    await cleanUp();
    const e = AnalysisError.from(err);
    const why = `${e.code}: ${e.message}`;
    if (e.code === 'SHUTDOWN') {
      await store.releaseAnalysis(analysis.id, study.id, why);
      log.info({ studyId: study.id }, 'analysis released: the node is stopping');
      throw new Error(why);
    }
    const lastAttempt = !e.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (lastAttempt) await store.markAnalysisFailed(analysis.id, study.id, why);
    log.warn({ studyId: study.id, code: e.code, why: e.message, lastAttempt }, 'analysis failed');
    throw e.retryable ? new Error(why) : new UnrecoverableError(why);
  }
  const tDone = performance.now();
  const analysisWallMs = tDone - tAnalysis;
  const doc = outcome.findings;
  if (objects) {
    // the outputs in the bucket before the row that names them (a retry puts the same keys again)
    try {
      await uploadDir(objects, tmp, outputsKey(study.id, analysis.id));
    } catch (err) {
      const why = `INTERNAL: cannot store the outputs: ${err instanceof Error ? err.message : String(err)}`;
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1))
        await store.markAnalysisFailed(analysis.id, study.id, why);
      log.warn({ studyId: study.id, why }, 'analysis failed');
      throw new Error(why);
    } finally {
      await cleanUp();
    }
  } else {
    if (existsSync(final)) await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  }
  const tSave = performance.now();
  const exportsToQueue = await store.saveAnalysisResult(
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
  const tQueue = performance.now();
  // the exports the transaction just (re)set to pending: no second query for them
  for (const e of exportsToQueue) await deps.queueExport(e.id, String(e.updatedAt.getTime()));
  const n = exportsToQueue.length;
  const tEnd = performance.now();
  const totalMs = tEnd - t0;
  const ms = (x: number) => Math.round(x * 10) / 10;
  log.info(
    {
      studyId: study.id,
      analysisId: analysis.id,
      exports: n,
      // the engine's own time, the pool's round trip, and the handler's whole time (ms); then the handler's
      // own steps: before the analysis (study, analysis row, running), moving the outputs, the transaction
      // that stores the findings, queueing the exports
      analysisMs: ms(outcome.analysisMs),
      poolMs: ms(analysisWallMs),
      handlerMs: ms(totalMs),
      // LUMBAR_STORAGE=s3: the instances fetched from the bucket, and how long that took
      ...(objects ? { fetched, fetchMs: ms(tAnalysis - tFetch) } : {}),
      steps: {
        beforeMs: ms(tFetch - t0),
        moveMs: ms(tSave - tDone),
        saveMs: ms(tQueue - tSave),
        queueMs: ms(tEnd - tQueue),
      },
    },
    'study analysed',
  );
  return doc.summary;
}

/**
 * LUMBAR_STORAGE=s3: copies a study's instances from the bucket (`instances/<study>/`) into `dir`, as the
 * receiver's folder has them (`<series>/<sop>.dcm`); returns how many. None there is the study's fault
 * (BAD_INPUT); a bucket that cannot be read is retried (INTERNAL).
 */
async function fetchInstances(objects: ObjectStore, studyInstanceUid: string, dir: string): Promise<number> {
  let keys: string[];
  try {
    keys = await downloadPrefix(objects, studyInstancesPrefix(studyInstanceUid), dir);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new AnalysisError('INTERNAL', `cannot fetch the study's instances: ${message}`);
  }
  if (keys.length === 0)
    throw new AnalysisError('BAD_INPUT', `no instances of study ${studyInstanceUid} in the object store`);
  return keys.length;
}
