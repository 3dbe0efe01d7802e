import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@lumbar/core';
import { indexUids, readIndexFields, type IndexFields } from '@lumbar/dicom';
import { audit, findInstance, type PrismaClient, type SqlRunner } from '@lumbar/db';
import type { Queues } from '@lumbar/jobs';
import type { ObjectStore } from '@lumbar/storage';
import { StudyArmer } from './arm';
import { DurableDirs, metadataCalls, type MetadataCalls } from './durable';
import { storedIntact, type InstanceFile } from './instance-file';
import { GroupRecorder } from './recorder';
import { replicateInstance, type Replica } from './replicate';

/** DIMSE statuses the receiver answers, as Orthanc and DCMTK do (docs/DICOM-CONFORMANCE.md). */
export const STATUS = {
  success: 0x0000,
  outOfResources: 0xa700,
  dataSetDoesNotMatchSopClass: 0xa900,
  cannotUnderstand: 0xc000,
} as const;

export interface StoreResult {
  status: number;
  comment?: string;
  /** The study whose debounce was re-armed, when the instance was (or already had been) stored. */
  studyId?: number;
}

export interface StoreContext {
  db: PrismaClient;
  queues: Queues;
  log: Logger;
  dataDir: string;
  stableMs: number;
  /** The receiver's own pg pool: the one statement that records instances (group commit). */
  recorder: GroupRecorder;
  armer: StudyArmer;
  dirs: DurableDirs;
  /** link, rename, unlink and a folder's fsync: synchronous on a local data folder (durable.ts). */
  calls: MetadataCalls;
  /** Stores in progress by SOP Instance UID: a second copy waits for the first (then it is a duplicate). */
  sopLocks: Map<string, Promise<unknown>>;
  /** LUMBAR_STORAGE=s3: the bucket every instance is also put into before its row; absent or null for fs. */
  objects?: ObjectStore | null;
}

/** The parts of a StoreContext that live as long as the receiver: group commit, re-arming, directories. */
export function storeContext(
  base: Pick<StoreContext, 'db' | 'queues' | 'log' | 'dataDir' | 'stableMs' | 'objects'> & { sql: SqlRunner },
): StoreContext {
  const { sql, ...rest } = base;
  const calls = metadataCalls(base.dataDir);
  return {
    ...rest,
    recorder: new GroupRecorder(sql),
    armer: new StudyArmer(base.queues, base.stableMs),
    dirs: new DurableDirs(calls),
    calls,
    sopLocks: new Map(),
  };
}

/** How long a C-STORE waits for Redis before answering A700 (BullMQ waits for a connection otherwise). */
const QUEUE_TIMEOUT_MS = 5000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
const errno = (err: unknown) => (err as NodeJS.ErrnoException | null)?.code;

/** Runs fn once no other store of the same SOP Instance UID is in progress in this process. */
async function withSopLock<T>(locks: Map<string, Promise<unknown>>, sop: string, fn: () => Promise<T>) {
  const previous = locks.get(sop);
  const mine = (previous ?? Promise.resolve()).then(fn);
  const settled = mine.catch(() => undefined);
  locks.set(sop, settled);
  try {
    return await mine;
  } finally {
    if (locks.get(sop) === settled) locks.delete(sop);
  }
}

type Uids = { study: string; series: string; sop: string; sopClass: string };
type Lap = (name: string) => void;
/** A duration as the debug line gives it: milliseconds to 0.1. */
const tenths = (ms: number) => Math.round(ms * 10) / 10;
/** The two legs of the `durable` phase, each from the moment the row is sent: its fsyncs, and its row's commit. */
type Legs = { fsyncs?: number; row?: number };

/**
 * Finishes one C-STORE: checks the streamed data set, links the file to `instances/<study>/<series>/<sop>.dcm`,
 * fsyncs the file and that directory while it inserts the row (group commit; with LUMBAR_STORAGE=s3 the bucket's
 * copy comes first: replicate.ts), re-arms the study's debounce, and answers success only once the fsyncs and the
 * commit are both done. Every failure becomes a status; nothing answered 0x0000 can be lost (docs/RELIABILITY.md).
 */
export async function storeInstance(ctx: StoreContext, file: InstanceFile): Promise<StoreResult> {
  const { command } = file;
  const t: Record<string, number> = {};
  if (file.senderMs !== undefined) t.sender = tenths(file.senderMs);
  let mark = file.startedAt;
  const lap: Lap = (name) => {
    const now = performance.now();
    t[name] = tenths(now - mark);
    mark = now;
  };
  const fail = async (status: number, comment: string): Promise<StoreResult> => {
    await file.discard();
    return { status, comment: comment.slice(0, 64) };
  };
  await file.received();
  // The file is written (one writev) and fsynced while the data set is checked in memory and linked in
  // place; it never rejects (a failure is in file.failure, checked before the row).
  const synced = file.persist();
  lap('receive');

  let ds: IndexFields;
  let uids: Uids;
  try {
    // The structure walk of every element length to the end of the file, keeping the values the row needs
    // (dcmjs only where the lean read might read a value differently: index-fields.ts).
    ds = readIndexFields(await file.parts(), command.sopInstanceUid);
    // its UIDs, and whole Pixel Data (every SOP class we accept is an image: one cut short is refused here)
    uids = indexUids(ds);
  } catch (err) {
    ctx.log.warn(
      { err: message(err), sopInstanceUid: command.sopInstanceUid },
      'C-STORE refused: cannot understand',
    );
    await synced;
    return fail(STATUS.cannotUnderstand, message(err));
  }
  lap('parse');
  if (uids.sop !== command.sopInstanceUid || uids.sopClass !== command.sopClassUid) {
    ctx.log.warn(
      { sopInstanceUid: command.sopInstanceUid },
      'C-STORE refused: data set UIDs contradict the command',
    );
    await synced;
    return fail(STATUS.dataSetDoesNotMatchSopClass, 'SOP Class/Instance UID differ from the command');
  }
  const legs: Legs = {};
  const result = await withSopLock(ctx.sopLocks, uids.sop, () =>
    place(ctx, file, ds, uids, synced, lap, legs),
  );
  if (result.status === STATUS.success)
    ctx.log.debug({ sopInstanceUid: uids.sop, timingsMs: t, durableMs: legs }, 'instance stored');
  return result;
}

/** Links the incoming file to `final` unless a file is there; ENOENT: the folder went, made again once. */
async function linkInPlace(ctx: StoreContext, from: string, dir: string, final: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    await ctx.dirs.ensure(dir);
    try {
      await ctx.calls.link(from, final);
      return true;
    } catch (err) {
      if (errno(err) === 'EEXIST') return false;
      if (errno(err) !== 'ENOENT' || attempt > 0) throw err;
      ctx.dirs.forget(dir);
    }
  }
}

async function place(
  ctx: StoreContext,
  file: InstanceFile,
  ds: IndexFields,
  uids: Uids,
  synced: Promise<void>,
  lap: Lap,
  legs: Legs,
): Promise<StoreResult> {
  const { command } = file;
  const dir = join(ctx.dataDir, 'instances', uids.study, uids.series);
  const final = join(dir, `${uids.sop}.dcm`);
  const sha256 = file.sha256();
  const fail = async (status: number, comment: string, placed: boolean): Promise<StoreResult> => {
    if (placed) await rm(final, { force: true }).catch(() => undefined);
    await synced;
    await file.discard();
    ctx.log.error({ err: comment, sopInstanceUid: uids.sop }, 'C-STORE failed: storage');
    return { status, comment: comment.slice(0, 64) };
  };
  const duplicate = async (existing: { id: number; sha256: string; studyId: number }) => {
    // Already stored: answered as a success, not stored twice.
    if (existing.sha256 !== sha256) {
      ctx.log.warn({ sopInstanceUid: uids.sop }, 'instance re-sent with different content: first copy kept');
      await audit(ctx.db, {
        actor: `dicom:${command.callingAeTitle}`,
        action: 'instance.resent-different',
        subjectType: 'instance',
        subjectId: existing.id,
      });
    }
    return existing.studyId;
  };

  // 1. In place, durably: the row that points to the file comes after (no row without its file). link()
  // never replaces a file: one already there is a stored duplicate, or an orphan a crash left before its row.
  let linked: boolean;
  try {
    await file.created();
    linked = await linkInPlace(ctx, file.path, dir, final);
    if (!linked) {
      const existing = await findInstance(ctx.db, uids.sop).catch((err: unknown) => {
        throw new Error(`database unavailable: ${message(err)}`);
      });
      // Stored: answered as a duplicate once its file is checked whole (a power cut can leave a row whose
      // file the disk never got: storedIntact); a file that is not whole is replaced by this copy.
      if (existing && (existing.path !== final || (await storedIntact(final, existing.sha256)))) {
        await synced;
        await file.discard();
        const studyId = await duplicate({ ...existing, studyId: existing.series.studyId });
        return await armed(ctx, studyId, false, lap);
      }
      if (existing)
        ctx.log.warn({ sopInstanceUid: uids.sop }, 'stored file not whole: replaced by the re-sent copy');
      await ctx.calls.rename(file.path, final); // the orphan, or the broken copy, goes
    }
  } catch (err) {
    const why = message(err);
    return fail(
      STATUS.outOfResources,
      why.startsWith('database') ? why : `cannot write to disk: ${why}`,
      false,
    );
  }
  lap('place');
  // 2. Durable: one fsync of the folder (shared with the other instances linked into it meanwhile) while the
  // file's own fsync finishes; the incoming name goes (it need not be durable: incoming/ is scratch).
  const durable: Promise<Error | null> = Promise.all([
    ctx.dirs.sync(dir),
    synced,
    linked ? ctx.calls.unlink(file.path) : undefined,
  ]).then(
    () => file.failure, // set by persist()
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
  // The row waits for the data set to be in the file (a write that fails, ENOSPC, never has a row), not for
  // the fsyncs: its commit and the fsyncs overlap, and the answer waits for both (docs/RELIABILITY.md).
  await file.written();
  if (file.failure) {
    await durable;
    return fail(STATUS.outOfResources, `cannot write to disk: ${file.failure.message}`, true);
  }
  // 2b. LUMBAR_STORAGE=s3: the bucket's copy too, before the row (no row without its object) and the answer.
  const replica: Replica = ctx.objects ? await replicateInstance(ctx.objects, final, uids) : { path: final };
  if ('error' in replica) {
    await durable;
    return fail(STATUS.outOfResources, `object store: ${replica.error}`, true);
  }
  if (ctx.objects) lap('replicate');

  // 3. The row (group commit with the instances of the other associations), while the fsyncs run.
  const sent = performance.now();
  const leg = (name: keyof Legs) => () => (legs[name] = tenths(performance.now() - sent));
  void durable.then(leg('fsyncs'));
  const recorded = ctx.recorder
    .record({
      studyInstanceUid: uids.study,
      seriesInstanceUid: uids.series,
      sopInstanceUid: uids.sop,
      sopClassUid: uids.sopClass,
      transferSyntaxUid: command.transferSyntaxUid,
      path: replica.path,
      sizeBytes: file.size,
      sha256,
      callingAeTitle: command.callingAeTitle,
      patientId: ds.patientId,
      patientName: ds.patientName,
      accessionNumber: ds.accessionNumber,
      studyDate: ds.studyDate,
      studyDescription: ds.studyDescription,
      modality: ds.modality,
      seriesNumber:
        ds.seriesNumber !== null && Number.isFinite(Number(ds.seriesNumber)) ? Number(ds.seriesNumber) : null,
      seriesDescription: ds.seriesDescription,
    })
    .then(
      (result) => ({ result }),
      (err: unknown) => ({ err }),
    )
    .finally(leg('row'));
  const [syncFailure, row] = await Promise.all([durable, recorded]);
  lap('durable');
  if (syncFailure) {
    // Not durable: the row recorded meanwhile goes again (if that fails too, the re-send finds the row and
    // checks the file before it answers: storedIntact).
    if ('result' in row && row.result.stored) {
      const why = `cannot write to disk: ${syncFailure.message}`;
      await ctx.recorder
        .forget(row.result.instanceId, `dicom:${command.callingAeTitle}`, why)
        .catch((err: unknown) =>
          ctx.log.error(
            { err: message(err), sopInstanceUid: uids.sop },
            'C-STORE: the row of a failed instance stays',
          ),
        );
    }
    return fail(STATUS.outOfResources, `cannot write to disk: ${syncFailure.message}`, true);
  }
  if ('err' in row) return fail(STATUS.outOfResources, `database unavailable: ${message(row.err)}`, true);
  const closed = file.close();
  let studyId: number;
  let skippable = false;
  const { result } = row;
  try {
    if (result.stored) {
      studyId = result.studyId;
      skippable = result.studyStatus.before === 'receiving' && result.studyStatus.after === 'receiving';
    } else {
      // Stored meanwhile under another path (another study or series), or by another receiver process.
      if (result.path !== replica.path) await rm(final, { force: true });
      studyId = await duplicate({ id: result.instanceId, sha256: result.sha256, studyId: result.studyId });
    }
  } catch (err) {
    return fail(STATUS.outOfResources, `database unavailable: ${message(err)}`, true);
  }
  await closed;
  return armed(ctx, studyId, skippable, lap);
}

/** 4. The study's debounced job, then the answer. */
async function armed(ctx: StoreContext, studyId: number, skippable: boolean, lap: Lap): Promise<StoreResult> {
  try {
    await withTimeout(ctx.armer.arm(studyId, { skippable }), QUEUE_TIMEOUT_MS, 'queue');
  } catch (err) {
    // Stored and recorded: a re-send is answered as a duplicate and re-arms; the reconciler also finds it.
    ctx.log.error({ err: message(err), studyId }, 'C-STORE: queue unavailable');
    return { status: STATUS.outOfResources, comment: 'queue unavailable', studyId };
  }
  lap('queue');
  return { status: STATUS.success, studyId };
}
