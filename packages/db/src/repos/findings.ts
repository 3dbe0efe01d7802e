import type { PrismaClient } from '../generated/client';

/**
 * Findings with an id above `afterId`, in commit order (by id), at most `take`, each with what the RIS feed
 * names of its analysis and study.
 */
export async function listFindingsAfter(db: PrismaClient, afterId: number, take: number) {
  return db.finding.findMany({
    where: { id: { gt: afterId } },
    orderBy: { id: 'asc' },
    take,
    include: {
      analysis: {
        select: {
          studyId: true,
          algorithmName: true,
          algorithmVersion: true,
          study: { select: { studyInstanceUid: true, accessionNumber: true } },
        },
      },
    },
  });
}
