import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InputError, type Logger } from '@lumbar/core';
import { pixelDataProblem, readPart10, type Dataset } from '@lumbar/dicom';
import { audit, findInstance, recordInstance, type PrismaClient } from '@lumbar/db';
import { armStudy, type Queues } from '@lumbar/jobs';
import type { InstanceFile } from './instance-file';

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

const UID = /^[0-9]+(\.[0-9]+)*$/;

const text = (v: unknown): string | null => {
  if (v === undefined || v === null || v === '') return null;
  if (Array.isArray(v)) return text(v[0]);
  if (typeof v === 'object' && v && 'Alphabetic' in v) return text((v as { Alphabetic: unknown }).Alphabetic);
  return String(v);
};

function uidOf(ds: Dataset, keyword: string): string {
  const v = text(ds[keyword]);
  if (!v) throw new InputError(`${keyword} is missing`);
  if (!UID.test(v) || v.length > 64)
    throw new InputError(`${keyword} "${v.slice(0, 70)}" is not a valid UID`);
  return v;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Finishes one C-STORE: checks the streamed file, moves it to `instances/<study>/<series>/<sop>.dcm`, inserts
 * its row, re-arms the study's debounce, and only then answers success. Every failure becomes a status.
 */
export async function storeInstance(ctx: StoreContext, file: InstanceFile): Promise<StoreResult> {
  const { command } = file;
  const fail = async (status: number, comment: string): Promise<StoreResult> => {
    await rm(file.path, { force: true }).catch(() => undefined);
    return { status, comment: comment.slice(0, 64) };
  };
  const t: Record<string, number> = {};
  let mark = file.startedAt;
  const lap = (name: string) => {
    const now = performance.now();
    t[name] = Math.round((now - mark) * 10) / 10;
    mark = now;
  };
  await file.written();
  if (file.failure) return fail(STATUS.outOfResources, `cannot write to disk: ${file.failure.message}`);
  // Three waits at once: the fsync, the parse below, and the duplicate lookup (by the command's UID, which
  // must equal the data set's or we answer A900 before using it). Neither promise ever rejects.
  const synced = file.sync();
  const lookup = findInstance(ctx.db, command.sopInstanceUid).then(
    (existing) => ({ existing, error: null }),
    (error: unknown) => ({ existing: null, error }),
  );
  lap('receive');

  let ds: Dataset;
  let uids: { study: string; series: string; sop: string; sopClass: string };
  try {
    ds = readPart10(await readFile(file.path), command.sopInstanceUid, { headerOnly: true });
    uids = {
      study: uidOf(ds, 'StudyInstanceUID'),
      series: uidOf(ds, 'SeriesInstanceUID'),
      sop: uidOf(ds, 'SOPInstanceUID'),
      sopClass: uidOf(ds, 'SOPClassUID'),
    };
    // Every SOP class we accept is an image: a data set cut short before or inside its Pixel Data is
    // refused here (readPart10 has already walked every element length to the end of the file).
    const problem = pixelDataProblem(ds);
    if (problem) throw new InputError(problem);
  } catch (err) {
    ctx.log.warn(
      { err: message(err), sopInstanceUid: command.sopInstanceUid },
      'C-STORE refused: cannot understand',
    );
    await Promise.all([synced, lookup]);
    return fail(STATUS.cannotUnderstand, message(err));
  }
  lap('parse');
  if (uids.sop !== command.sopInstanceUid || uids.sopClass !== command.sopClassUid) {
    ctx.log.warn(
      { sopInstanceUid: command.sopInstanceUid },
      'C-STORE refused: data set UIDs contradict the command',
    );
    await Promise.all([synced, lookup]);
    return fail(STATUS.dataSetDoesNotMatchSopClass, 'SOP Class/Instance UID differ from the command');
  }
  await synced;
  lap('fsync');
  const syncFailure = file.failure as Error | null; // set by sync(), which TypeScript cannot see
  if (syncFailure) return fail(STATUS.outOfResources, `cannot write to disk: ${syncFailure.message}`);

  const final = join(ctx.dataDir, 'instances', uids.study, uids.series, `${uids.sop}.dcm`);
  const sha256 = file.hash.digest('hex');
  let studyId: number;
  try {
    const found = await lookup;
    if (found.error) throw new Error(`database unavailable: ${message(found.error)}`);
    const existing = found.existing;
    lap('lookup');
    if (existing) {
      // Already stored: answered as a success, not stored twice.
      await rm(file.path, { force: true });
      studyId = existing.series.studyId;
      if (existing.sha256 !== sha256) {
        ctx.log.warn(
          { sopInstanceUid: uids.sop },
          'instance re-sent with different content: first copy kept',
        );
        await audit(ctx.db, {
          actor: `dicom:${command.callingAeTitle}`,
          action: 'instance.resent-different',
          subjectType: 'instance',
          subjectId: existing.id,
        });
      }
    } else {
      // Durable at its final place first, then the row that points to it; no row, no file.
      await mkdir(dirname(final), { recursive: true });
      await rename(file.path, final);
      await fsyncDir(dirname(final));
      lap('rename');
      const result = await recordInstance(ctx.db, {
        studyInstanceUid: uids.study,
        seriesInstanceUid: uids.series,
        sopInstanceUid: uids.sop,
        sopClassUid: uids.sopClass,
        transferSyntaxUid: command.transferSyntaxUid,
        path: final,
        sizeBytes: file.size,
        sha256,
        callingAeTitle: command.callingAeTitle,
        patientId: text(ds.PatientID),
        patientName: text(ds.PatientName),
        accessionNumber: text(ds.AccessionNumber),
        studyDate: text(ds.StudyDate),
        studyDescription: text(ds.StudyDescription),
        modality: text(ds.Modality),
        seriesNumber: Number.isFinite(Number(text(ds.SeriesNumber))) ? Number(text(ds.SeriesNumber)) : null,
        seriesDescription: text(ds.SeriesDescription),
      }).catch(async (err) => {
        await rm(final, { force: true }).catch(() => undefined);
        throw new Error(`database unavailable: ${message(err)}`);
      });
      studyId = result.studyId;
      lap('insert');
    }
  } catch (err) {
    ctx.log.error({ err: message(err), sopInstanceUid: uids.sop }, 'C-STORE failed: storage');
    return fail(STATUS.outOfResources, message(err));
  }
  try {
    await withTimeout(armStudy(ctx.queues, studyId, ctx.stableMs), QUEUE_TIMEOUT_MS, 'queue');
  } catch (err) {
    // Stored and recorded: a re-send is answered as a duplicate and re-arms; the reconciler also finds it.
    ctx.log.error({ err: message(err), studyId }, 'C-STORE: queue unavailable');
    return { status: STATUS.outOfResources, comment: 'queue unavailable', studyId };
  }
  lap('queue');
  ctx.log.debug({ sopInstanceUid: uids.sop, timingsMs: t }, 'instance stored');
  return { status: STATUS.success, studyId };
}
