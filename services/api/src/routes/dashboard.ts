import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ALGORITHM } from '@lumbar/core';
import { Type } from 'typebox';
import type { RouteOptions } from '../deps';
import { countByStatus, exportCounts, queueCounts, studyCounts } from '../counts';
import { AUTH_ERRORS, DateTime, errors, EXPORT_STATUSES, Nullable, STUDY_STATUSES } from '../schemas';

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
const FAILURES = 20;

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
});

/** GET /dashboard (an HTML page, no data in it) and GET /dashboard/summary (what it shows, read scope). */
export const dashboardRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { deps }) => {
  app.get(
    '/dashboard/summary',
    {
      schema: {
        tags: ['operations'],
        summary:
          'What flows and what fails: studies and exports by status, queues, last 24 hours, latest failures',
        response: { 200: Summary, ...errors(...AUTH_ERRORS) },
      },
    },
    async (request) => {
      const db = deps.db;
      const since = new Date(Date.now() - 24 * 3600 * 1000);
      const [studies, exports, last, received, analyses, sent, failedAnalyses, failedExports] =
        await Promise.all([
          studyCounts(db),
          exportCounts(db),
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
            take: FAILURES,
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
            take: FAILURES,
            select: {
              id: true,
              destination: true,
              lastError: true,
              updatedAt: true,
              analysis: { select: { studyId: true, study: { select: { studyInstanceUid: true } } } },
            },
          }),
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
      const done = countByStatus(['succeeded', 'failed'] as const, analyses);
      const sentOrNot = countByStatus(['succeeded', 'failed'] as const, sent);
      return {
        generatedAt: new Date().toISOString(),
        algorithm: { name: ALGORITHM.name, version: ALGORITHM.version },
        studies,
        exports,
        queues,
        lastInstanceAt: last._max.receivedAt ? last._max.receivedAt.toISOString() : null,
        last24h: {
          instancesReceived: received,
          analysesSucceeded: done.succeeded,
          analysesFailed: done.failed,
          exportsSucceeded: sentOrNot.succeeded,
          exportsFailed: sentOrNot.failed,
        },
        failures,
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
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(DASHBOARD_PAGE),
  );
};

/**
 * The page holds no data: its script asks for an API key (kept in this browser tab's sessionStorage only),
 * then fetches /dashboard/summary every 10 s with it. Text goes in with textContent, never as HTML.
 */
const DASHBOARD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lumbar-ai: operations</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.5rem}
table{border-collapse:collapse;margin:.3rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}
.bad{color:#b00020;font-weight:600}.muted{color:#777}#err{color:#b00020}
</style></head><body>
<h1>lumbar-ai operations <span id="alg" class="muted"></span></h1>
<p class="muted">Not for primary diagnosis: research use only until clinically validated.</p>
<form id="login" hidden><label>API key (scope read) <input id="key" type="password" size="40" autocomplete="off"></label> <button>Show</button></form>
<p id="err"></p><div id="out" hidden>
<p>Updated <span id="at"></span>; last instance received <span id="last"></span></p>
<h2>Studies</h2><table id="studies"></table>
<h2>Exports to the PACS</h2><table id="exports"></table>
<h2>Queues</h2><table id="queues"></table>
<h2>Last 24 hours</h2><table id="day"></table>
<h2>Latest failures</h2><table id="failures"></table></div>
<script>
const $ = (id) => document.getElementById(id);
function row(table, cells, head) {
  const tr = table.insertRow();
  for (const c of cells) { const td = document.createElement(head ? 'th' : 'td'); td.textContent = c === null ? '' : String(c); tr.appendChild(td); }
  return tr;
}
function counts(table, obj, badKeys) {
  table.replaceChildren(); row(table, Object.keys(obj), true);
  const tr = row(table, Object.values(obj));
  Object.keys(obj).forEach((k, i) => { if (badKeys.includes(k) && obj[k] > 0) tr.cells[i].className = 'bad'; });
}
async function refresh() {
  const key = sessionStorage.getItem('lumbarKey');
  if (!key) { $('login').hidden = false; return; }
  try {
    const base = location.pathname.endsWith('/') ? location.pathname.slice(0, -1) : location.pathname;
    const r = await fetch(base + '/summary', { headers: { authorization: 'Bearer ' + key } });
    if (r.status === 401 || r.status === 403) { sessionStorage.removeItem('lumbarKey'); $('err').textContent = (await r.json()).message; $('login').hidden = false; $('out').hidden = true; return; }
    if (!r.ok) throw new Error('HTTP ' + r.status);
    const s = await r.json();
    $('err').textContent = ''; $('login').hidden = true; $('out').hidden = false;
    $('alg').textContent = s.algorithm.name + ' ' + s.algorithm.version;
    $('at').textContent = s.generatedAt; $('last').textContent = s.lastInstanceAt || 'never';
    counts($('studies'), s.studies, ['failed']);
    counts($('exports'), s.exports, ['failed']);
    const q = $('queues'); q.replaceChildren();
    if (s.queues === null) row(q, ['Redis does not answer']).className = 'bad';
    else { row(q, ['queue', 'waiting', 'active', 'delayed', 'failed'], true); for (const [n, c] of Object.entries(s.queues)) row(q, [n, c.waiting, c.active, c.delayed, c.failed]); }
    counts($('day'), s.last24h, ['analysesFailed', 'exportsFailed']);
    const f = $('failures'); f.replaceChildren(); row(f, ['when', 'what', 'study', 'destination', 'error'], true);
    for (const x of s.failures) row(f, [x.at, x.kind + ' ' + x.id, x.studyInstanceUid, x.destination, x.error]);
    if (s.failures.length === 0) row(f, ['none']);
  } catch (e) { $('err').textContent = 'Cannot reach the API: ' + e.message; }
}
$('login').addEventListener('submit', (e) => { e.preventDefault(); sessionStorage.setItem('lumbarKey', $('key').value.trim()); $('key').value = ''; refresh(); });
refresh(); setInterval(refresh, 10000);
</script></body></html>
`;
