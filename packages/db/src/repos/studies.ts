import type { Prisma, PrismaClient, StudyStatus } from '../generated/client';

/** One study (every column), null when there is none. */
export async function findStudy(db: PrismaClient, id: number) {
  return db.study.findUnique({ where: { id } });
}

/** What the analysis of a study needs to know of it: its identity, status and last instance time. */
export async function findStudyForAnalysis(db: PrismaClient, id: number) {
  return db.study.findUnique({
    where: { id },
    select: { id: true, studyInstanceUid: true, status: true, lastReceivedAt: true },
  });
}

/** A study's status and when its last instance came (the receive-to-stable metric). */
export async function findStudyReceiveState(db: PrismaClient, id: number) {
  return db.study.findUnique({ where: { id }, select: { status: true, lastReceivedAt: true } });
}

export interface StudyFilter {
  status?: StudyStatus;
  /** First received at or after. */
  receivedFrom?: Date;
  /** First received before. */
  receivedTo?: Date;
}

/** One page of studies, newest first (by id, descending: a stable order), and how many match in all. */
export async function listStudiesPage(
  db: PrismaClient,
  filter: StudyFilter,
  page: { limit: number; offset: number },
) {
  const where: Prisma.StudyWhereInput = {
    status: filter.status,
    firstReceivedAt: { gte: filter.receivedFrom, lt: filter.receivedTo },
  };
  const [rows, total] = await Promise.all([
    db.study.findMany({ where, orderBy: { id: 'desc' }, take: page.limit, skip: page.offset }),
    db.study.count({ where }),
  ]);
  return { rows, total };
}

/**
 * The series of a study (by series number, then id) with their instance counts, and its analyses (oldest
 * first).
 */
export async function findStudySeriesAndAnalyses(db: PrismaClient, studyId: number) {
  const [series, analyses] = await Promise.all([
    db.series.findMany({
      where: { studyId },
      orderBy: [{ seriesNumber: 'asc' }, { id: 'asc' }],
      include: { _count: { select: { instances: true } } },
    }),
    db.analysis.findMany({ where: { studyId }, orderBy: { id: 'asc' } }),
  ]);
  return { series, analyses };
}

/** Sets a study's status. */
export async function setStudyStatus(db: PrismaClient, id: number, status: StudyStatus): Promise<void> {
  await db.study.update({ where: { id }, data: { status } });
}

/** The number of studies in each status that has any (Prisma `groupBy` rows). */
export async function countStudiesByStatus(db: PrismaClient) {
  return db.study.groupBy({ by: ['status'], _count: { _all: true } });
}

/** When the last instance of any study was received; null when none ever was (studies is the small table). */
export async function lastStudyReceivedAt(db: PrismaClient): Promise<Date | null> {
  const { _max } = await db.study.aggregate({ _max: { lastReceivedAt: true } });
  return _max.lastReceivedAt;
}

/**
 * Studies owed an analysis that the job queue may have lost (at most 500): receiving and quiet since
 * `quietBefore`, queued and untouched since then, or analysing with a run started before `lostBefore`.
 */
export async function findStudiesOwedAnalysis(
  db: PrismaClient,
  t: { quietBefore: Date; lostBefore: Date },
): Promise<Array<{ id: number }>> {
  return db.study.findMany({
    where: {
      OR: [
        { status: 'receiving', lastReceivedAt: { lt: t.quietBefore } },
        { status: 'queued', updatedAt: { lt: t.quietBefore } },
        { status: 'analyzing', analyses: { some: { status: 'running', startedAt: { lt: t.lostBefore } } } },
      ],
    },
    select: { id: true },
    take: 500,
  });
}
