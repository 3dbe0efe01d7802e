import { type Config } from '@lumbar/core';
import { openDb } from '@lumbar/db';
import type { Queues } from '@lumbar/jobs';
import { buildApi, METRIC_NAMES, startApi } from '@lumbar/api';
import { PATIENT_NAME, PATIENT_ID, auth, useApiTest } from '../../helpers/api';
import { testConfig } from '../../helpers/services';

const suite = useApiTest();
const { t, studies, get, post } = suite;
let admin: string;
let reader: string;
let queues: Queues;
let redis: typeof suite.redis;
let config: Config;
beforeAll(() => {
  ({ admin, reader, queues, redis, config } = suite);
});

// GET /readyz, /metrics and /openapi.json, the log, and startApi.
describe('operations', () => {
  // What the other API test files did before /metrics was read when they were one file (each file has an API
  // of its own now): a list of studies read, a re-analysis refused to a read key and two queued, one export
  // sent and one failed, then retried.
  beforeAll(async () => {
    expect((await get('/studies')).statusCode).toBe(200);
    expect((await post(`/studies/${studies.c.id}/reanalyze`, reader)).statusCode).toBe(403);
    for (let i = 0; i < 2; i++)
      expect((await post(`/studies/${studies.b.id}/reanalyze`)).statusCode).toBe(202);
    const { failed } = await suite.failOneExportSendOther();
    expect((await post(`/exports/${failed}/retry`)).statusCode).toBe(200);
  });

  it('reports ready when Postgres and Redis answer, 503 naming the one that does not', async () => {
    expect((await get('/readyz', null)).json()).toEqual({
      status: 'ok',
      checks: { postgres: 'ok', redis: 'ok' },
    });
    // The producer's options, pointed at redis://127.0.0.1:1, where nothing listens. (A short disconnect
    // timeout: ioredis otherwise keeps a 2 s timer after disconnecting a socket that never opened.)
    const deadRedis = redis.duplicate({ host: '127.0.0.1', port: 1, disconnectTimeout: 10 });
    deadRedis.on('error', () => undefined);
    const deadDb = openDb(t.url.replace(/\/[^/]+$/, '/lumbar_no_such_database'));
    const down = await buildApi({ config, db: t.db, queues, redis: deadRedis, log: suite.capturingLogger() });
    const noDb = await buildApi({ config, db: deadDb, queues, redis, log: suite.capturingLogger() });
    try {
      const res = await down.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ status: 'unavailable', checks: { postgres: 'ok', redis: 'failed' } });
      const res2 = await noDb.inject({ method: 'GET', url: '/readyz' });
      expect(res2.statusCode).toBe(503);
      expect(res2.json().checks).toEqual({ postgres: 'failed', redis: 'ok' });
      // Anything unexpected is a generic 500: no stack, no driver message.
      const broken = await noDb.inject({ method: 'GET', url: '/studies', headers: auth(reader) });
      expect(broken.statusCode).toBe(500);
      expect(broken.json()).toEqual({
        statusCode: 500,
        error: 'Internal Server Error',
        code: 'INTERNAL',
        message: 'internal server error',
      });
    } finally {
      await down.close();
      await noDb.close();
      deadRedis.disconnect();
      await deadDb.$disconnect();
    }
  });

  it('exposes Prometheus metrics: requests by route, studies, exports and queue depths', async () => {
    const res = await get('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    for (const name of Object.values(METRIC_NAMES)) expect(res.body).toContain(`# TYPE ${name} `);
    expect(res.body).toMatch(
      /lumbar_api_http_requests_total\{method="GET",route="\/studies",status="200"\} \d+/,
    );
    expect(res.body).toMatch(
      /lumbar_api_http_requests_total\{method="POST",route="\/studies\/:id\/reanalyze",status="403"\}/,
    );
    const analyzed = await t.db.study.count({ where: { status: 'analyzed' } });
    expect(res.body).toContain(`lumbar_studies{status="analyzed"} ${analyzed}`);
    expect(res.body).toContain('lumbar_exports{status="succeeded"} 1');
    expect(res.body).toContain('lumbar_queue_jobs{queue="lumbar-studies",state="waiting"} 2');
    expect(res.body).toContain('lumbar_queue_jobs{queue="lumbar-exports",state="waiting"} 1');
  });

  it('documents every route in the OpenAPI document, with its responses', async () => {
    const doc = (await get('/openapi.json', null)).json();
    const routes = {
      '/studies': ['get'],
      '/studies/{id}': ['get'],
      '/studies/{id}/findings': ['get'],
      '/findings': ['get'],
      '/studies/{id}/seg': ['get'],
      '/studies/{id}/sr': ['get'],
      '/studies/{id}/key-images/{n}.png': ['get'],
      '/studies/{id}/reanalyze': ['post'],
      '/exports': ['get'],
      '/exports/{id}/retry': ['post'],
      '/fhir/DiagnosticReport': ['get'],
      '/fhir/DiagnosticReport/{id}': ['get'],
      '/healthz': ['get'],
      '/readyz': ['get'],
      '/metrics': ['get'],
      '/openapi.json': ['get'],
      '/dashboard': ['get'],
      '/dashboard/summary': ['get'],
      '/audit': ['get'],
    };
    expect(Object.keys(doc.paths).sort()).toEqual(Object.keys(routes).sort());
    for (const [p, methods] of Object.entries(routes)) {
      for (const m of methods) {
        const op = doc.paths[p][m];
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        if (!['/healthz', '/readyz', '/openapi.json', '/dashboard'].includes(p)) {
          const ok = p.endsWith('/reanalyze') ? '202' : '200';
          expect({ p, codes: Object.keys(op.responses) }).toEqual({
            p,
            codes: expect.arrayContaining([ok, '400', '401', '403', '500']),
          });
        }
      }
    }
    expect(doc.paths['/studies/{id}/sr'].get.responses['200'].content).toHaveProperty('application/dicom');
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('never logs patient names or ids, nor API keys', async () => {
    expect(suite.logText.length).toBeGreaterThan(0);
    expect(suite.logText).not.toContain(PATIENT_NAME);
    expect(suite.logText).not.toContain(PATIENT_ID);
    expect(suite.logText).not.toContain(admin);
    expect(suite.logText).not.toContain(reader);
  });

  it('startApi seeds the bootstrap key and listens', async () => {
    const key = 'lk_bootstr1_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
    const cfg = testConfig(t.url, { LUMBAR_API_HOST: '127.0.0.1', LUMBAR_BOOTSTRAP_API_KEY: key });
    const api = await startApi({ config: cfg, db: t.db, queues, redis, log: suite.capturingLogger() });
    try {
      expect(api.port).toBeGreaterThan(0);
      const res = await fetch(`http://127.0.0.1:${api.port}/exports/999999/retry`, {
        method: 'POST',
        headers: auth(key),
      });
      expect(res.status).toBe(404);
      const row = await t.db.apiKey.findUniqueOrThrow({ where: { prefix: 'bootstr1' } });
      expect(row.scopes.sort()).toEqual(['admin', 'read']);
      expect(row.hash).not.toContain(key);
    } finally {
      await api.close();
    }
  });
});
