import type { PrismaClient } from '../generated/client';

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
