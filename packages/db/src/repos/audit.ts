import type { Prisma, PrismaClient } from '../generated/client';

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
