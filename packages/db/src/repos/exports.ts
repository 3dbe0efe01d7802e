import type { ExportStatus, PrismaClient } from '../generated/client';

/** An export with what the exporter sends: the DICOM objects of its analysis. */
export async function loadExport(db: PrismaClient, exportId: number) {
  return db.export.findUnique({
    where: { id: exportId },
    include: { analysis: { include: { outputs: true } } },
  });
}

export async function markExportAttempt(db: PrismaClient, exportId: number) {
  return db.export.update({
    where: { id: exportId },
    data: { status: 'sending', attempts: { increment: 1 } },
  });
}

export async function markExportResult(
  db: PrismaClient,
  exportId: number,
  r: { ok: boolean; final: boolean; status?: number | null; error?: string | null },
) {
  return db.export.update({
    where: { id: exportId },
    data: r.ok
      ? { status: 'succeeded', sentAt: new Date(), lastStatus: r.status ?? 0, lastError: null }
      : {
          status: r.final ? 'failed' : 'pending',
          lastStatus: r.status ?? null,
          lastError: (r.error ?? 'unknown error').slice(0, 4000),
        },
  });
}

/** Puts a failed export back to pending with a fresh attempt budget; null when it is not failed. */
export async function resetExport(db: PrismaClient, exportId: number) {
  const { count } = await db.export.updateMany({
    where: { id: exportId, status: 'failed' },
    data: { status: 'pending', attempts: 0, lastError: null, lastStatus: null },
  });
  return count === 1 ? db.export.findUnique({ where: { id: exportId } }) : null;
}

/** One export (every column), null when there is none. */
export async function findExport(db: PrismaClient, exportId: number) {
  return db.export.findUnique({ where: { id: exportId } });
}

/** What a client sees of an export's study: its id and Study Instance UID, through the analysis. */
const WITH_STUDY = {
  analysis: { select: { studyId: true, study: { select: { studyInstanceUid: true } } } },
} as const;

/** One page of exports, newest first (by id, descending), with their studies, and how many match in all. */
export async function listExportsPage(
  db: PrismaClient,
  filter: { status?: ExportStatus },
  page: { limit: number; offset: number },
) {
  const where = { status: filter.status };
  const [rows, total] = await Promise.all([
    db.export.findMany({
      where,
      orderBy: { id: 'desc' },
      take: page.limit,
      skip: page.offset,
      include: WITH_STUDY,
    }),
    db.export.count({ where }),
  ]);
  return { rows, total };
}

/** One export with its study; throws when there is none. */
export async function getExportWithStudy(db: PrismaClient, exportId: number) {
  return db.export.findUniqueOrThrow({ where: { id: exportId }, include: WITH_STUDY });
}

/** The number of exports in each status that has any (Prisma `groupBy` rows). */
export async function countExportsByStatus(db: PrismaClient) {
  return db.export.groupBy({ by: ['status'], _count: { _all: true } });
}

/** The pending exports of an analysis (id and updatedAt: the generation of their job id). */
export async function listPendingExports(
  db: PrismaClient,
  analysisId: number,
): Promise<Array<{ id: number; updatedAt: Date }>> {
  return db.export.findMany({
    where: { analysisId, status: 'pending' },
    select: { id: true, updatedAt: true },
  });
}

/**
 * Exports the job queue may have lost (at most 500): pending and untouched since `pendingBefore`, or sending
 * and untouched since `sendingBefore`.
 */
export async function findExportsOwed(
  db: PrismaClient,
  t: { pendingBefore: Date; sendingBefore: Date },
): Promise<Array<{ id: number; analysisId: number }>> {
  return db.export.findMany({
    where: {
      OR: [
        { status: 'pending', updatedAt: { lt: t.pendingBefore } },
        { status: 'sending', updatedAt: { lt: t.sendingBefore } },
      ],
    },
    select: { id: true, analysisId: true },
    take: 500,
  });
}

/** Those of these exports that are still sending (a send lost mid-way) go back to pending. */
export async function markLostSendsPending(db: PrismaClient, exportIds: number[]): Promise<void> {
  await db.export.updateMany({
    where: { id: { in: exportIds }, status: 'sending' },
    data: { status: 'pending' },
  });
}
