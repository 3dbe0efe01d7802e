import type { Prisma, PrismaClient } from '../generated/client';

/** Serialises the writers of findings so that ids commit in order: the RIS feed's cursor never skips. */
const FEED_LOCK = 727275;

/** The analysis of a study by this algorithm version, created if missing (unique: study + version). */
export async function ensureAnalysis(
  db: PrismaClient,
  studyId: number,
  algorithm: { name: string; version: string },
) {
  return db.analysis.upsert({
    where: { studyId_algorithmVersion: { studyId, algorithmVersion: algorithm.version } },
    create: { studyId, algorithmName: algorithm.name, algorithmVersion: algorithm.version },
    update: {},
  });
}

export async function markAnalysisRunning(db: PrismaClient, analysisId: number, studyId: number) {
  await db.$transaction([
    db.analysis.update({
      where: { id: analysisId },
      data: {
        status: 'running',
        attempts: { increment: 1 },
        startedAt: new Date(),
        finishedAt: null,
        lastError: null,
      },
    }),
    db.study.update({ where: { id: studyId }, data: { status: 'analyzing' } }),
  ]);
}

export async function markAnalysisFailed(
  db: PrismaClient,
  analysisId: number,
  studyId: number,
  error: string,
) {
  await db.$transaction([
    db.analysis.update({
      where: { id: analysisId },
      data: { status: 'failed', lastError: error.slice(0, 4000), finishedAt: new Date() },
    }),
    db.study.update({ where: { id: studyId }, data: { status: 'failed' } }),
  ]);
}

export interface FindingInput {
  level: string;
  diagnosis: string;
  probabilities: Record<string, number>;
  reason?: string | null;
}

export interface OutputInput {
  kind: string;
  view?: string | null;
  file: string;
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
}

/**
 * Stores a finished analysis in one transaction: findings and outputs replace those of an earlier run,
 * and one export per destination is (re)set to pending. Returns those exports (id, updatedAt) to queue after
 * commit.
 */
export async function saveAnalysisResult(
  db: PrismaClient,
  a: { analysisId: number; studyId: number; summary: string; document: unknown; outputDir: string },
  findings: FindingInput[],
  outputs: OutputInput[],
  destinations: string[],
): Promise<Array<{ id: number; updatedAt: Date }>> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${FEED_LOCK})`;
    await tx.finding.deleteMany({ where: { analysisId: a.analysisId } });
    await tx.output.deleteMany({ where: { analysisId: a.analysisId } });
    await tx.finding.createMany({
      data: findings.map((f) => ({
        analysisId: a.analysisId,
        level: f.level,
        diagnosis: f.diagnosis,
        probabilities: f.probabilities,
        reason: f.reason ?? null,
      })),
    });
    await tx.output.createMany({
      data: outputs.map((o) => ({ ...o, view: o.view ?? null, analysisId: a.analysisId })),
    });
    await tx.analysis.update({
      where: { id: a.analysisId },
      data: {
        status: 'succeeded',
        summary: a.summary,
        document: a.document as Prisma.InputJsonValue,
        outputDir: a.outputDir,
        finishedAt: new Date(),
        lastError: null,
      },
    });
    await tx.study.update({ where: { id: a.studyId }, data: { status: 'analyzed' } });
    const ids: Array<{ id: number; updatedAt: Date }> = [];
    for (const destination of destinations) {
      const e = await tx.export.upsert({
        where: { analysisId_destination: { analysisId: a.analysisId, destination } },
        create: { analysisId: a.analysisId, destination },
        update: { status: 'pending', attempts: 0, lastError: null, lastStatus: null, sentAt: null },
        select: { id: true, updatedAt: true },
      });
      ids.push(e);
    }
    return ids;
  });
}

/** Back to queued (the node stopped while it ran): the analysis and its study, in one transaction. */
export async function releaseAnalysis(db: PrismaClient, analysisId: number, studyId: number, why: string) {
  await db.$transaction([
    db.analysis.update({
      where: { id: analysisId },
      data: { status: 'queued', startedAt: null, lastError: why.slice(0, 4000) },
    }),
    db.study.update({ where: { id: studyId }, data: { status: 'queued' } }),
  ]);
}

/**
 * The analysis whose results a study shows: the newest one that has results (an output folder), with its
 * findings (by id) and outputs (by file); null when none has.
 */
export async function findResultAnalysis(db: PrismaClient, studyId: number) {
  return db.analysis.findFirst({
    where: { studyId, outputDir: { not: null } },
    orderBy: { id: 'desc' },
    include: { findings: { orderBy: { id: 'asc' } }, outputs: { orderBy: { file: 'asc' } } },
  });
}

/**
 * The analyses that have results (oldest first), of one study (by Study Instance UID) and/or one analysis id,
 * with their findings (by id) and what a report names of the study.
 */
export async function listAnalysesWithResults(
  db: PrismaClient,
  where: { studyInstanceUid?: string; analysisId?: number },
) {
  return db.analysis.findMany({
    where: {
      outputDir: { not: null },
      id: where.analysisId,
      study: where.studyInstanceUid ? { studyInstanceUid: where.studyInstanceUid } : undefined,
    },
    orderBy: { id: 'asc' },
    include: {
      findings: { orderBy: { id: 'asc' } },
      study: { select: { studyInstanceUid: true, accessionNumber: true, studyDate: true } },
    },
  });
}
