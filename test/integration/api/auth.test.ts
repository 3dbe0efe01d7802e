import type { FastifyInstance } from 'fastify';
import { BAD_KEY, auth, useApiTest } from '../../helpers/api';

const suite = useApiTest();
const { t, studies, get } = suite;
let app: FastifyInstance;
let admin: string;
let reader: string;
beforeAll(() => {
  ({ app, admin, reader } = suite);
});

// Every protected route: which keys it refuses, and what is open without a key.
/** Every route that needs a key, with a URL that would succeed with the right one. */
const protectedRoutes = () => [
  ['GET', '/studies'],
  ['GET', `/studies/${studies.a.id}`],
  ['GET', `/studies/${studies.a.id}/findings`],
  ['GET', '/findings'],
  ['GET', `/studies/${studies.a.id}/seg?view=sagittal`],
  ['GET', `/studies/${studies.a.id}/sr`],
  ['GET', `/studies/${studies.a.id}/key-images/1.png`],
  ['GET', '/exports'],
  ['GET', '/metrics'],
  ['GET', '/dashboard/summary'],
  ['GET', `/fhir/DiagnosticReport?study=${studies.a.uid}`],
  ['POST', `/studies/${studies.c.id}/reanalyze`],
  ['POST', '/exports/1/retry'],
];

describe('authentication and scopes', () => {
  it('answers 401 without a key and with an unknown or malformed key, on every protected route', async () => {
    for (const [method, url] of protectedRoutes()) {
      for (const headers of [{}, auth(BAD_KEY), auth('not-a-key'), { authorization: `Basic ${admin}` }]) {
        const res = await app.inject({ method: method as 'GET' | 'POST', url, headers });
        expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 401 });
        expect(res.json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
  });

  it('answers 403 to a read key on POST routes, and lets admin keys read', async () => {
    for (const [method, url] of protectedRoutes().filter(([m]) => m === 'POST')) {
      const res = await app.inject({ method: method as 'POST', url, headers: auth(reader) });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 403 });
      expect(res.json().code).toBe('FORBIDDEN');
    }
    for (const [, url] of protectedRoutes().filter(([m]) => m === 'GET')) {
      const res = await get(url, admin);
      expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
    }
    expect(await t.db.study.findUniqueOrThrow({ where: { id: studies.c.id } })).toMatchObject({
      status: 'receiving',
    });
  });

  it('serves health, readiness, the OpenAPI document and the Swagger UI without a key', async () => {
    expect((await get('/healthz', null)).json()).toEqual({ status: 'ok' });
    expect((await get('/readyz', null)).statusCode).toBe(200);
    expect((await get('/openapi.json', null)).json().openapi).toBe('3.1.0');
    const ui = await get('/docs', null);
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    expect(ui.body).toMatch(/swagger/i);
    expect((await get('/docs/json', null)).json().paths).toHaveProperty('/findings');
  });
});
