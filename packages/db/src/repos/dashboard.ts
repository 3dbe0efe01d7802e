import type { PrismaClient } from '../generated/client';

/**
 * What the node did since `since`, for the operator dashboard: the last instance ever received, instances
 * received since then, analyses finished and exports touched since then by status (Prisma `groupBy` rows), and
 * the `failures` latest failed analyses and exports (newest first) with their studies. All queries at once.
 */
export async function dashboardActivity(db: PrismaClient, since: Date, failures: number) {
  const [last, instancesReceived, analysesByStatus, exportsByStatus, failedAnalyses, failedExports] =
    await Promise.all([
      db.instance.aggregate({ _max: { receivedAt: true } }),
      db.instance.count({ where: { receivedAt: { gte: since } } }),
      db.analysis.groupBy({
        by: ['status'],
        where: { finishedAt: { gte: since } },
        _count: { _all: true },
      }),
      db.export.groupBy({ by: ['status'], where: { updatedAt: { gte: since } }, _count: { _all: true } }),
      db.analysis.findMany({
        where: { status: 'failed' },
        orderBy: [{ finishedAt: 'desc' }, { id: 'desc' }],
        take: failures,
        select: {
          id: true,
          studyId: true,
          lastError: true,
          finishedAt: true,
          createdAt: true,
          study: { select: { studyInstanceUid: true } },
        },
      }),
      db.export.findMany({
        where: { status: 'failed' },
        orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
        take: failures,
        select: {
          id: true,
          destination: true,
          lastError: true,
          updatedAt: true,
          analysis: { select: { studyId: true, study: { select: { studyInstanceUid: true } } } },
        },
      }),
    ]);
  return {
    lastInstanceAt: last._max.receivedAt,
    instancesReceived,
    analysesByStatus,
    exportsByStatus,
    failedAnalyses,
    failedExports,
  };
}

/** One hour (truncated) and how many things happened in it. */
export type HourCount = { hour: Date; n: bigint };

/**
 * Per hour since `since` (only hours with any): studies first received, analyses succeeded (by finish time)
 * and exports sent.
 */
export async function hourlyActivity(db: PrismaClient, since: Date) {
  const [received, analysed, exported] = await Promise.all([
    db.$queryRaw<HourCount[]>`SELECT date_trunc('hour', first_received_at) AS hour, count(*) AS n FROM studies
      WHERE first_received_at >= ${since} GROUP BY 1`,
    db.$queryRaw<HourCount[]>`SELECT date_trunc('hour', finished_at) AS hour, count(*) AS n FROM analyses
      WHERE status = 'succeeded' AND finished_at >= ${since} GROUP BY 1`,
    db.$queryRaw<HourCount[]>`SELECT date_trunc('hour', sent_at) AS hour, count(*) AS n FROM exports
      WHERE status = 'succeeded' AND sent_at >= ${since} GROUP BY 1`,
  ]);
  return { received, analysed, exported };
}

/**
 * Seconds from a study's last instance to its export sent, over the exports sent since `since`: how many, p50
 * and p95 (null without samples). Undefined when Postgres returns no row.
 */
export async function exportLatencySince(db: PrismaClient, since: Date) {
  const [row] = await db.$queryRaw<{ n: bigint; p50: number | null; p95: number | null }[]>`
    SELECT count(*) AS n,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.sent_at - s.last_received_at)) AS p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM e.sent_at - s.last_received_at)) AS p95
    FROM exports e JOIN analyses a ON a.id = e.analysis_id JOIN studies s ON s.id = a.study_id
    WHERE e.status = 'succeeded' AND e.sent_at >= ${since}`;
  return row as typeof row | undefined;
}

/**
 * Per stage of the findings documents' timingsMs (by stage name), over the analyses succeeded since `since`:
 * how many samples, p50 and p95 in milliseconds.
 */
export async function stageTimingsSince(db: PrismaClient, since: Date) {
  return db.$queryRaw<{ stage: string; n: bigint; p50: number; p95: number }[]>`
    SELECT t.key AS stage, count(*) AS n,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY (t.value #>> '{}')::float8) AS p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY (t.value #>> '{}')::float8) AS p95
    FROM analyses a, jsonb_each(CASE WHEN jsonb_typeof(a.document -> 'timingsMs') = 'object'
      THEN a.document -> 'timingsMs' ELSE '{}'::jsonb END) AS t
    WHERE a.status = 'succeeded' AND a.finished_at >= ${since} AND jsonb_typeof(t.value) = 'number'
    GROUP BY t.key ORDER BY t.key`;
}

/**
 * The `take` latest studies (newest first), each with its newest analysis that has results (none or one):
 * summary, document, findings (by level) and exports (by id).
 */
export async function latestStudiesWithResults(db: PrismaClient, take: number) {
  return db.study.findMany({
    orderBy: { id: 'desc' },
    take,
    select: {
      id: true,
      studyInstanceUid: true,
      status: true,
      instanceCount: true,
      lastReceivedAt: true,
      analyses: {
        where: { outputDir: { not: null } },
        orderBy: { id: 'desc' },
        take: 1,
        select: {
          summary: true,
          document: true,
          findings: { orderBy: { level: 'asc' }, select: { level: true, diagnosis: true, reason: true } },
          exports: {
            orderBy: { id: 'asc' },
            select: {
              id: true,
              destination: true,
              status: true,
              attempts: true,
              sentAt: true,
              lastError: true,
            },
          },
        },
      },
    },
  });
}
