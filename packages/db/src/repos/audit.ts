import type { Prisma, PrismaClient } from '../generated/client';

/**
 * The actions of the audit trail (after DICOM PS3.15 Annex A.5 audit messages). Details never hold patient
 * data nor API keys: an API key is named by its public prefix only.
 */
export const AUDIT_ACTIONS = {
  /** DICOM Instances Transferred: a new instance stored by the receiver; actor `dicom:<calling AE>`. */
  instanceReceived: 'instance.received',
  /** An instance re-sent with other content than the stored copy (which is kept). */
  instanceResentDifferent: 'instance.resent-different',
  /**
   * A row recorded while its file was being fsynced, taken out again because the fsync failed (the sender was
   * answered A700, never 0x0000); actor `dicom:<calling AE>`.
   */
  instanceDiscarded: 'instance.discarded',
  /** DICOM Instances Transferred: the exporter sent an analysis' objects to a destination. */
  exportSent: 'export.sent',
  /** The exporter gave up on an export. */
  exportFailed: 'export.failed',
  /** An operator asked for an export to be sent again. */
  exportRetry: 'export.retry',
  /** An operator asked for a study to be analysed again. */
  studyReanalyze: 'study.reanalyze',
  /** Security Alert: the API refused a request (401 or 403). */
  apiAccessDenied: 'api.access-denied',
  /** Security Alert (user security attributes changed): an API key created or replaced. */
  apiKeyCreate: 'apikey.create',
  /** Security Alert (user security attributes changed): an API key revoked. */
  apiKeyRevoke: 'apikey.revoke',
  /** Audit Log Used: someone read the audit trail (GET /audit). */
  auditRead: 'audit.read',
} as const;

/** One line of the audit trail: who did what to which object (no patient data in details). */
export async function audit(
  db: PrismaClient,
  e: { actor: string; action: string; subjectType: string; subjectId?: string | number; details?: object },
) {
  await db.auditEvent.create({
    data: {
      actor: e.actor,
      action: e.action,
      subjectType: e.subjectType,
      subjectId: e.subjectId === undefined ? null : String(e.subjectId),
      details: (e.details ?? undefined) as Prisma.InputJsonValue | undefined,
    },
  });
}

export interface AuditQuery {
  /** An exact action, or a family: `apikey.*` matches every action that starts with `apikey.`. */
  action?: string;
  actor?: string;
  /** At or after. */
  since?: Date;
  /** Before. */
  until?: Date;
  /** Only events with a smaller id (the cursor of the previous page). */
  beforeId?: number;
  limit: number;
}

/** Audit events, newest first (by id: a stable order), one page and whether another follows. */
export async function listAuditEvents(db: PrismaClient, q: AuditQuery) {
  const action =
    q.action === undefined
      ? undefined
      : q.action.endsWith('.*')
        ? { startsWith: q.action.slice(0, -1) }
        : q.action;
  const rows = await db.auditEvent.findMany({
    where: {
      action,
      actor: q.actor,
      at: { gte: q.since, lt: q.until },
      id: q.beforeId === undefined ? undefined : { lt: q.beforeId },
    },
    orderBy: { id: 'desc' },
    take: q.limit + 1,
  });
  return { items: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}
