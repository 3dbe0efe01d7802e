import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ALGORITHM } from '@lumbar/core';
import {
  dashboardActivity,
  exportLatencySince,
  findApiKeyScopes,
  hourlyActivity,
  latestStudiesWithResults,
  stageTimingsSince,
  type HourCount,
} from '@lumbar/db';
import { Type } from 'typebox';
import type { RouteOptions } from '../deps';
import { countByStatus, exportCounts, queueCounts, studyCounts } from '../counts';
import { AUTH_ERRORS, DateTime, errors, EXPORT_STATUSES, Nullable, STUDY_STATUSES } from '../schemas';

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
const FAILURES = 20;
const LATEST = 10;
const HOURS = 24;

const Counts = <T extends readonly string[]>(keys: T) =>
  Type.Object(
    Object.fromEntries(keys.map((k) => [k, Type.Integer()])) as Record<
      T[number],
      ReturnType<typeof Type.Integer>
    >,
  );

const Failure = Type.Object({
  kind: Type.Enum(['analysis', 'export']),
  id: Type.Integer(),
  studyId: Type.Integer(),
  studyInstanceUid: Type.String(),
  destination: Nullable(Type.String({ description: 'exports: AE@host:port' })),
  at: DateTime,
  error: Nullable(Type.String()),
});

const HourBucket = Type.Object({
  hour: DateTime,
  received: Type.Integer(),
  analysed: Type.Integer(),
  exported: Type.Integer(),
});

const Latency = Type.Object(
  {
    samples: Type.Integer(),
    p50Seconds: Nullable(Type.Number()),
    p95Seconds: Nullable(Type.Number()),
  },
  {
    description:
      'last instance received -> export sent to the PACS (studies.last_received_at to exports.sent_at), ' +
      'exports sent in the last 24 hours',
  },
);

const StageTiming = Type.Object({
  stage: Type.String(),
  samples: Type.Integer(),
  p50Ms: Type.Number(),
  p95Ms: Type.Number(),
});

const LatestStudy = Type.Object({
  id: Type.Integer(),
  studyInstanceUid: Type.String(),
  status: Type.Enum(STUDY_STATUSES),
  instanceCount: Type.Integer(),
  lastReceivedAt: DateTime,
  summary: Nullable(Type.String()),
  findings: Type.Array(
    Type.Object({ level: Type.String(), diagnosis: Type.String(), reason: Nullable(Type.String()) }),
  ),
  keyImages: Type.Array(Type.Object({ n: Type.Integer(), title: Type.String() })),
  exports: Type.Array(
    Type.Object({
      id: Type.Integer(),
      destination: Type.String(),
      status: Type.Enum(EXPORT_STATUSES),
      attempts: Type.Integer(),
      sentAt: Nullable(DateTime),
      lastError: Nullable(Type.String()),
    }),
  ),
});

const Summary = Type.Object({
  generatedAt: DateTime,
  algorithm: Type.Object({ name: Type.String(), version: Type.String() }),
  studies: Counts(STUDY_STATUSES),
  exports: Counts(EXPORT_STATUSES),
  queues: Nullable(
    Type.Record(Type.String(), Counts(QUEUE_STATES), { description: 'null when Redis does not answer' }),
  ),
  lastInstanceAt: Nullable(DateTime),
  last24h: Type.Object({
    instancesReceived: Type.Integer(),
    analysesSucceeded: Type.Integer(),
    analysesFailed: Type.Integer(),
    exportsSucceeded: Type.Integer(),
    exportsFailed: Type.Integer(),
  }),
  failures: Type.Array(Failure, {
    description: `the ${FAILURES} latest failed analyses and exports, newest first`,
  }),
  viewer: Type.Object({ scopes: Type.Array(Type.String(), { description: 'the scopes of the key asking' }) }),
  timeline: Type.Array(HourBucket, {
    description: `the last ${HOURS} hours, oldest first: studies first received, analyses succeeded, exports sent`,
  }),
  latency: Latency,
  inference: Type.Array(StageTiming, {
    description: 'analysis time per stage (findings document timingsMs) over the last 24 hours',
  }),
  latest: Type.Array(LatestStudy, { description: `the ${LATEST} latest studies, newest first` }),
});

type Db = RouteOptions['deps']['db'];

/** Hourly counts of the last HOURS hours (oldest first, every hour present, empty ones as 0). */
async function timeline(db: Db, now: Date) {
  const since = new Date(Math.floor(now.getTime() / 3600_000) * 3600_000 - (HOURS - 1) * 3600_000);
  const { received, analysed, exported } = await hourlyActivity(db, since);
  const at = (rows: HourCount[], t: number) => Number(rows.find((r) => r.hour.getTime() === t)?.n ?? 0);
  return Array.from({ length: HOURS }, (_, i) => {
    const t = since.getTime() + i * 3600_000;
    return {
      hour: new Date(t).toISOString(),
      received: at(received, t),
      analysed: at(analysed, t),
      exported: at(exported, t),
    };
  });
}

/** p50 and p95 of last instance -> export sent, over the exports sent since `since`. */
async function latency(db: Db, since: Date) {
  const row = await exportLatencySince(db, since);
  const round = (v: number | null) => (v === null ? null : Math.round(Number(v) * 1000) / 1000);
  return {
    samples: Number(row?.n ?? 0),
    p50Seconds: round(row?.p50 ?? null),
    p95Seconds: round(row?.p95 ?? null),
  };
}

/** p50 and p95 of each stage of the findings documents' timingsMs, analyses succeeded since `since`. */
async function inference(db: Db, since: Date) {
  const rows = await stageTimingsSince(db, since);
  return rows.map((r) => ({
    stage: r.stage,
    samples: Number(r.n),
    p50Ms: Math.round(Number(r.p50)),
    p95Ms: Math.round(Number(r.p95)),
  }));
}

/** Key images of a findings document: their number n (key-images/n.png, as /studies/:id/key-images/:n.png). */
function keyImagesOf(doc: unknown): { n: number; title: string }[] {
  const list = (doc as { keyImages?: unknown } | null)?.keyImages;
  if (!Array.isArray(list)) return [];
  return list.flatMap((k: { file?: unknown; title?: unknown }) => {
    const m = typeof k?.file === 'string' ? /^key-images\/(\d{1,4})\.png$/.exec(k.file) : null;
    return m ? [{ n: Number(m[1]), title: typeof k.title === 'string' ? k.title : `key image ${m[1]}` }] : [];
  });
}

/** The latest studies with the findings of their newest analysis that has results, and its exports. */
async function latestStudies(db: Db) {
  const studies = await latestStudiesWithResults(db, LATEST);
  return studies.map((s) => {
    const a = s.analyses[0];
    return {
      id: s.id,
      studyInstanceUid: s.studyInstanceUid,
      status: s.status,
      instanceCount: s.instanceCount,
      lastReceivedAt: s.lastReceivedAt.toISOString(),
      summary: a?.summary ?? null,
      findings: a?.findings ?? [],
      keyImages: a ? keyImagesOf(a.document) : [],
      exports: (a?.exports ?? []).map((e) => ({ ...e, sentAt: e.sentAt ? e.sentAt.toISOString() : null })),
    };
  });
}

/**
 * The page's files, read once from the package's `public/` folder (next to `src/` and `dist/`, so the same
 * path serves from the sources under jest and from the build). The page's one inline script (the key and the
 * fetch helper) is allowed by its hash in the Content-Security-Policy; nothing else inline runs.
 */
const PUBLIC_DIR = path.join(__dirname, '..', '..', 'public');
function loadPage() {
  const html = readFileSync(path.join(PUBLIC_DIR, 'dashboard.html'), 'utf8');
  const inline = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const hash = createHash('sha256').update(inline).digest('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self'",
    "img-src 'self' blob:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    html,
    csp,
    js: readFileSync(path.join(PUBLIC_DIR, 'dashboard.js'), 'utf8'),
    css: readFileSync(path.join(PUBLIC_DIR, 'dashboard.css'), 'utf8'),
  };
}

/**
 * GET /dashboard (an HTML page, no data in it), its script and style sheet, and GET /dashboard/summary (what
 * it shows, read scope).
 */
export const dashboardRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { deps }) => {
  const page = loadPage();

  app.get(
    '/dashboard/summary',
    {
      schema: {
        tags: ['operations'],
        summary:
          'What flows and what fails: studies and exports by status, queues, last 24 hours, latency, ' +
          'analysis time per stage, the latest studies and failures',
        response: { 200: Summary, ...errors(...AUTH_ERRORS) },
      },
    },
    async (request) => {
      const db = deps.db;
      const now = new Date();
      const since = new Date(now.getTime() - 24 * 3600 * 1000);
      const prefix = request.actor.replace(/^api-key:/, '');
      const [studies, exports, activity] = await Promise.all([
        studyCounts(db),
        exportCounts(db),
        dashboardActivity(db, since, FAILURES),
      ]);
      const { lastInstanceAt, instancesReceived, analysesByStatus, exportsByStatus } = activity;
      const { failedAnalyses, failedExports } = activity;
      const [hours, lat, stages, latest, key] = await Promise.all([
        timeline(db, now),
        latency(db, since),
        inference(db, since),
        latestStudies(db),
        findApiKeyScopes(db, prefix),
      ]);
      let queues: Record<string, Record<(typeof QUEUE_STATES)[number], number>> | null;
      try {
        queues = await queueCounts(deps.queues, QUEUE_STATES);
      } catch (err) {
        request.log.warn({ err: (err as Error).message }, 'dashboard: queue counts unavailable');
        queues = null;
      }
      const failures = [
        ...failedAnalyses.map((a) => ({
          kind: 'analysis' as const,
          id: a.id,
          studyId: a.studyId,
          studyInstanceUid: a.study.studyInstanceUid,
          destination: null,
          at: (a.finishedAt ?? a.createdAt).toISOString(),
          error: a.lastError,
        })),
        ...failedExports.map((e) => ({
          kind: 'export' as const,
          id: e.id,
          studyId: e.analysis.studyId,
          studyInstanceUid: e.analysis.study.studyInstanceUid,
          destination: e.destination,
          at: e.updatedAt.toISOString(),
          error: e.lastError,
        })),
      ]
        .sort((a, b) => b.at.localeCompare(a.at))
        .slice(0, FAILURES);
      const done = countByStatus(['succeeded', 'failed'] as const, analysesByStatus);
      const sentOrNot = countByStatus(['succeeded', 'failed'] as const, exportsByStatus);
      return {
        generatedAt: now.toISOString(),
        algorithm: { name: ALGORITHM.name, version: ALGORITHM.version },
        studies,
        exports,
        queues,
        lastInstanceAt: lastInstanceAt ? lastInstanceAt.toISOString() : null,
        last24h: {
          instancesReceived,
          analysesSucceeded: done.succeeded,
          analysesFailed: done.failed,
          exportsSucceeded: sentOrNot.succeeded,
          exportsFailed: sentOrNot.failed,
        },
        failures,
        viewer: { scopes: key?.scopes ?? [] },
        timeline: hours,
        latency: lat,
        inference: stages,
        latest,
      };
    },
  );

  app.get(
    '/dashboard',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'Operator dashboard (HTML; asks for an API key and reads /dashboard/summary with it)',
        security: [],
        response: { 200: { description: 'HTML page', content: { 'text/html': { schema: Type.String() } } } },
      },
    },
    async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('content-security-policy', page.csp)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .send(page.html),
  );

  for (const [file, type, body] of [
    ['dashboard.js', 'text/javascript; charset=utf-8', page.js],
    ['dashboard.css', 'text/css; charset=utf-8', page.css],
  ] as const) {
    app.get(
      `/dashboard/${file}`,
      { config: { public: true }, schema: { hide: true } },
      async (_request, reply) =>
        reply
          .type(type)
          .header('cache-control', 'no-cache')
          .header('x-content-type-options', 'nosniff')
          .send(body),
    );
  }
};
