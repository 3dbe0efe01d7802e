import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { ALGORITHM, type Config } from '@lumbar/core';
import { createApiKey, ensureAnalysis, recordInstance, saveAnalysisResult } from '@lumbar/db';
import { openQueues, redisConnection, type Queues } from '@lumbar/jobs';
import { buildApi } from '@lumbar/api';
import { dispositionName, isSafeOutputName } from '../../services/api/src/routes/files';
import { patternRegex } from '../../services/api/src/plugins/inputs';
import { instantOf } from '../../services/api/src/schemas';
import { useTestDatabase } from '../helpers/db';
import { makeTmpDir, removeDir } from '../helpers/files';
import { testConfig } from '../helpers/services';
import { mrInstance } from '../helpers/seed';

/**
 * What schema fuzzing (scripts/api-schemathesis.sh, docs/API.md "Schema fuzzing") found in the REST API, one
 * regression test each, and the refusal of traversal and odd characters on every route that takes a
 * UID, a file name or a path segment. Real Postgres and Redis, the app through `inject`.
 */
const t = useTestDatabase();
const DICM = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from('sr bytes')]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
const SECRET = Buffer.from('outside the output folder');

let config: Config;
let redis: ReturnType<typeof redisConnection>;
let queues: Queues;
let app: FastifyInstance;
let outRoot: string;
let admin: string;
let reader: string;
/** A study with good results, and one whose stored output names or files try to leave the folder. */
const good = { id: 0, uid: '', analysisId: 0 };
const evil = { id: 0, uid: '' };

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const get = (url: string, key: string | null = reader) =>
  app.inject({ method: 'GET', url, headers: key ? auth(key) : {} });

async function seedStudy(n: number) {
  const uid = `1.2.826.0.1.3680043.10.543.9${n}`;
  const r = await recordInstance(
    t.db,
    mrInstance(uid, {
      path: `/nowhere/${n}.dcm`,
      patientId: 'PAT-INPUTS',
      patientName: 'Doe^Input',
      accessionNumber: `ACC9${n}`,
    }),
  );
  return { id: r.studyId, uid };
}

/** Stores a finished analysis with the given output names; the caller writes the files. */
async function seedResult(studyId: number, files: { sr: string; sagittal: string; axial: string }) {
  const analysis = await ensureAnalysis(t.db, studyId, ALGORITHM);
  const outputDir = path.join(outRoot, String(studyId), String(analysis.id));
  mkdirSync(path.join(outputDir, 'key-images'), { recursive: true });
  const levels = [
    {
      level: 'L4-L5',
      diagnosis: 'healthy',
      reason: null,
      probabilities: { healthy: 0.6, bulge: 0.1, central: 0.1, left: 0.1, right: 0.1 },
    },
  ];
  const uid = (s: string) => `2.25.9${studyId}.${analysis.id}.${s}`;
  const outputs = [
    { kind: 'seg', view: 'sagittal', file: files.sagittal, sopClassUid: '1.2.840.10008.5.1.4.1.1.66.4' },
    { kind: 'seg', view: 'axial', file: files.axial, sopClassUid: '1.2.840.10008.5.1.4.1.1.66.4' },
    { kind: 'sr', file: files.sr, sopClassUid: '1.2.840.10008.5.1.4.1.1.88.33' },
  ].map((o, i) => ({ ...o, sopInstanceUid: uid(`${i}1`), seriesInstanceUid: uid(`${i}2`) }));
  const document = {
    summary: 'ok',
    levels,
    keyImages: [{ file: 'key-images/1.png', title: 'mid-sagittal' }],
  };
  await saveAnalysisResult(
    t.db,
    { analysisId: analysis.id, studyId, summary: 'ok', document, outputDir },
    levels,
    outputs,
    [],
  );
  return { outputDir, analysisId: analysis.id };
}

beforeAll(async () => {
  config = testConfig(t.url);
  outRoot = makeTmpDir('api-inputs-out');
  redis = redisConnection(config.redisUrl, 'producer');
  queues = openQueues(redis, config.queuePrefix);
  admin = (await createApiKey(t.db, ['admin'], 'inputs admin')).key;
  reader = (await createApiKey(t.db, ['read'], 'inputs reader')).key;

  Object.assign(good, await seedStudy(1));
  const g = await seedResult(good.id, { sr: 'sr.dcm', sagittal: 'seg-sagittal.dcm', axial: 'seg-axial.dcm' });
  good.analysisId = g.analysisId;
  writeFileSync(path.join(g.outputDir, 'sr.dcm'), DICM);
  writeFileSync(path.join(g.outputDir, 'seg-sagittal.dcm'), DICM);
  writeFileSync(path.join(g.outputDir, 'key-images', '1.png'), PNG);

  // The evil study: names stored in the database that would leave the output folder, a key image that is
  // a symbolic link to a file outside it, another that is a folder.
  Object.assign(evil, await seedStudy(2));
  const e = await seedResult(evil.id, {
    sr: '../outside.dcm',
    sagittal: '/etc/hostname',
    axial: 'a/../../x.dcm',
  });
  writeFileSync(path.join(path.dirname(e.outputDir), 'outside.dcm'), SECRET);
  writeFileSync(path.join(outRoot, 'secret.png'), SECRET);
  symlinkSync(path.join(outRoot, 'secret.png'), path.join(e.outputDir, 'key-images', '1.png'));
  mkdirSync(path.join(e.outputDir, 'key-images', '2.png'));

  app = await buildApi({ config, db: t.db, queues, redis, log: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await app?.close();
  await queues?.studies.obliterate({ force: true }).catch(() => undefined);
  await queues?.exports.obliterate({ force: true }).catch(() => undefined);
  await queues?.close();
  redis?.disconnect();
  if (outRoot) removeDir(outRoot);
});

/** A 4xx with the error body and a sentence; never the file's bytes. */
function expectRefused(res: Awaited<ReturnType<typeof get>>, status?: number) {
  expect(res.statusCode).toBeGreaterThanOrEqual(400);
  expect(res.statusCode).toBeLessThan(500);
  if (status) expect(res.statusCode).toBe(status);
  const body = res.json();
  expect(body).toMatchObject({ statusCode: res.statusCode, code: expect.any(String) });
  expect(body.message.length).toBeGreaterThan(10);
  expect(res.body).not.toContain(SECRET.toString());
}

describe('paging: an offset the database cannot take (was 500)', () => {
  it('refuses an offset above 2^31-1 with a 400, on /studies and /exports', async () => {
    for (const url of [
      '/studies?offset=2147483648',
      '/studies?offset=1656391322771452984630968320',
      '/exports?offset=164596964931114603905024',
    ]) {
      const res = await get(url);
      expectRefused(res, 400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/offset/) });
    }
  });

  it('still takes the largest offset', async () => {
    const res = await get('/studies?offset=2147483647');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ items: [], total: 2, offset: 2147483647 });
  });
});

describe('date-time filters: schema-valid values that made a 500', () => {
  it('reads the year 0000 as the earliest instant Postgres stores', async () => {
    expect((await get('/studies?receivedFrom=0000-01-01T00:00:00Z')).json().total).toBe(2);
    expect((await get('/studies?receivedTo=0000-01-01T00:00:00Z')).json().total).toBe(0);
    // 0001-01-01 with a positive offset is in year 0000 too.
    const res = await get('/studies?receivedFrom=0001-01-01T00:00:00%2B01:00');
    expect(res.statusCode).toBe(200);
    expect(res.json().total).toBe(2);
  });

  it('reads a leap second (23:59:60) as the second after 23:59:59', async () => {
    const res = await get('/studies?receivedTo=2016-12-31T23:59:60Z');
    expect(res.statusCode).toBe(200);
    expect(res.json().total).toBe(0);
    expect(instantOf('2016-12-31T23:59:60Z').toISOString()).toBe('2017-01-01T00:00:00.000Z');
    expect(instantOf('2016-12-31T23:59:60.5Z').toISOString()).toBe('2017-01-01T00:00:00.500Z');
    expect(instantOf('0000-06-01T00:00:00Z').toISOString()).toBe('0001-01-01T00:00:00.000Z');
  });

  it('takes both on /audit', async () => {
    const res = await get('/audit?since=0000-01-01T00:00:00Z&until=2016-12-31T23:59:60Z', admin);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ items: expect.any(Array), hasMore: expect.any(Boolean) });
  });
});

describe('integers in the path and the query: decimal digits only (Ajv coercion took 0x1, 1e0, " 1")', () => {
  it.each([
    `/studies/0x1`,
    `/studies/1e0`,
    `/studies/%201`,
    `/studies/+1`,
    `/studies/1.0`,
    `/studies/1/key-images/0x1.png`,
    `/studies/1/key-images/1e0.png`,
    `/studies?limit=1e1`,
    `/studies?offset=0x0`,
    `/exports?limit=%2010`,
    `/findings?limit=1.0`,
    `/audit?limit=0x10`,
  ])('refuses %s with 400 VALIDATION', async (url) => {
    const res = await get(url, admin);
    expectRefused(res, 400);
    expect(res.json()).toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/must be an integer in decimal digits/),
    });
  });

  it('takes decimal digits, as before', async () => {
    expect((await get(`/studies/${good.id}`)).statusCode).toBe(200);
    expect((await get(`/studies/${good.id}/key-images/1.png`)).statusCode).toBe(200);
    expect((await get('/studies?limit=10&offset=0')).statusCode).toBe(200);
    const missing = await get('/studies/2147483647');
    expectRefused(missing, 404);
  });

  it('leaves POST routes with integer ids checked the same way', async () => {
    const res = await app.inject({ method: 'POST', url: '/exports/0x1/retry', headers: auth(admin) });
    expectRefused(res, 400);
  });
});

describe('methods a path does not have: 405 with Allow (was 404, or 400 for QUERY)', () => {
  it.each([
    ['DELETE', '/studies/1', 'GET, HEAD'],
    ['PUT', '/studies', 'GET, HEAD'],
    ['OPTIONS', '/studies', 'GET, HEAD'],
    ['TRACE', '/healthz', 'GET, HEAD'],
    ['QUERY', '/studies/1/sr', 'GET, HEAD'],
    ['GET', '/studies/1/reanalyze', 'POST'],
    ['PATCH', '/exports/1/retry', 'POST'],
    ['POST', '/studies/1/key-images/1.png', 'GET, HEAD'],
    ['DELETE', '/fhir/DiagnosticReport/lumbar-1', 'GET, HEAD'],
    ['POST', '/studies/1/sr/', 'GET, HEAD'],
  ] as const)('%s %s: 405, Allow: %s', async (method, url, allow) => {
    // No key: the method is refused before the key is checked, and nothing is read.
    const res = await app.inject({ method, url });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.json()).toMatchObject({
      statusCode: 405,
      error: 'Method Not Allowed',
      code: 'METHOD_NOT_ALLOWED',
    });
  });

  it('still answers 404 to a path that no route has', async () => {
    for (const [method, url] of [
      ['DELETE', '/nope'],
      ['GET', '/studies/1/nope'],
      ['GET', '/studies/1/key-images/1.png%00'],
    ] as const) {
      const res = await app.inject({ method, url, headers: auth(reader) });
      expectRefused(res, 404);
      expect(res.json().message).toMatch(/^no route/);
    }
  });

  it('answers 400 with a sentence where the router refuses the path (were a bare 414 and 400)', async () => {
    for (const url of [
      `/studies/1/key-images/${'1'.repeat(101)}.png`,
      `/studies/${'1'.repeat(101)}`,
      `/fhir/DiagnosticReport/lumbar-${'1'.repeat(101)}`,
      '/studies/%E0%A4%A/sr',
      '/studies/1/key-images/%ZZ.png',
    ]) {
      const res = await get(url);
      expectRefused(res, 400);
      expect(res.json()).toMatchObject({ error: 'Bad Request', code: 'VALIDATION' });
    }
  });

  it('matches route patterns on the raw path', () => {
    const re = patternRegex('/studies/:id/key-images/:n.png');
    expect(re.test('/studies/1/key-images/2.png')).toBe(true);
    expect(re.test('/studies/1/key-images/2.png/')).toBe(true);
    expect(re.test('/studies/1/key-images/2.pngx')).toBe(false);
    expect(re.test('/studies/1/2/key-images/2.png')).toBe(false);
    expect(patternRegex('/docs/*').test('/docs/static/index.html')).toBe(true);
  });
});

describe('FHIR answers are documented as application/fhir+json (was application/json)', () => {
  it('documents and sends the FHIR media type, with the whole resource', async () => {
    const doc = (await get('/openapi.json', null)).json();
    for (const p of ['/fhir/DiagnosticReport', '/fhir/DiagnosticReport/{id}']) {
      expect(Object.keys(doc.paths[p].get.responses['200'].content)).toEqual(['application/fhir+json']);
      expect(Object.keys(doc.paths[p].get.responses['404']?.content ?? { 'application/json': 1 })).toEqual([
        'application/json',
      ]);
    }
    const bundle = await get(`/fhir/DiagnosticReport?study=${good.uid}`);
    expect(bundle.statusCode).toBe(200);
    expect(bundle.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(bundle.json().entry[0].resource).toMatchObject({
      resourceType: 'DiagnosticReport',
      status: 'preliminary',
      contained: expect.any(Array),
    });
    const one = await get(`/fhir/DiagnosticReport/lumbar-${good.analysisId}`);
    expect(one.statusCode).toBe(200);
    expect(one.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(one.json()).toMatchObject({ resourceType: 'DiagnosticReport', conclusion: 'ok' });
  });
});

describe('audit filters: no control characters (a NUL made a 500 in Postgres)', () => {
  it('refuses a NUL or another control character in action or actor with 400 VALIDATION', async () => {
    for (const url of [
      '/audit?actor=a%00b',
      '/audit?action=apikey.%00',
      '/audit?actor=x%0Ay',
      '/audit?action=%7F',
    ]) {
      const res = await get(url, admin);
      expectRefused(res, 400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/pattern/) });
    }
  });

  it('still takes what actors look like', async () => {
    for (const actor of ['dicom:STORE SCU', 'cli:jane.doe', 'api-key:abcd1234', 'dicom:ÄÖ']) {
      const res = await get(`/audit?actor=${encodeURIComponent(actor)}&action=apikey.*`, admin);
      expect({ actor, status: res.statusCode }).toEqual({ actor, status: 200 });
    }
  });
});

describe('cursors: the base64url alphabet only', () => {
  it('refuses a cursor with other characters by its schema (400 VALIDATION)', async () => {
    for (const url of ['/findings?since=..%2F..', '/findings?since=%00', '/audit?cursor=a%20b']) {
      const res = await get(url, admin);
      expectRefused(res, 400);
      expect(res.json().code).toBe('VALIDATION');
    }
  });

  it('still refuses a well-formed cursor it did not issue with 400 BAD_INPUT', async () => {
    const res = await get('/findings?since=0000', admin);
    expectRefused(res, 400);
    expect(res.json().code).toBe('BAD_INPUT');
  });
});

describe('UIDs, names and path segments never reach a file path unchecked', () => {
  it.each([
    '/studies/..%2f1/sr',
    '/studies/1%2f..%2f2/sr',
    '/studies/%2e%2e/sr',
    '/studies/..%5c1/sr',
    '/studies/1%00/sr',
    '/studies/1/key-images/..%2f..%2fsr.png',
    '/studies/1/key-images/%2e%2e%2fsr.png',
    '/studies/1/key-images/1%2f..%2f..%2fsr.png',
    '/studies/1/seg?view=..%2Fsr.dcm',
    '/studies/1/seg?view=sagittal%00',
    '/studies/1/seg?view=%2Fetc%2Fhostname',
    '/studies/1/seg',
    '/fhir/DiagnosticReport/lumbar-1%2f..',
    '/fhir/DiagnosticReport/..%2flumbar-1',
    '/fhir/DiagnosticReport/lumbar-1%00',
    '/fhir/DiagnosticReport?study=..%2F..%2Fetc%2Fpasswd',
    '/fhir/DiagnosticReport?study=1.2.3%00',
    '/fhir/DiagnosticReport?study=1.2.3%2F..',
    '/fhir/DiagnosticReport?study=1.2.3&study=..',
  ])('refuses %s with a 4xx and a sentence', async (url) => {
    // 400 from the schema; 404 where the client library already resolved a dot segment (%2e%2e).
    expectRefused(await get(url));
  });

  it('refuses stored names that would leave the output folder (404), and serves good ones', async () => {
    expect((await get(`/studies/${good.id}/sr`)).statusCode).toBe(200);
    const sr = await get(`/studies/${evil.id}/sr`);
    expectRefused(sr, 404);
    expect(sr.json().message).toMatch(/not a valid file name/);
    expectRefused(await get(`/studies/${evil.id}/seg?view=sagittal`), 404);
    expectRefused(await get(`/studies/${evil.id}/seg?view=axial`), 404);
  });

  it('refuses a key image that is a symbolic link out of the folder, or a folder (was 500)', async () => {
    const link = await get(`/studies/${evil.id}/key-images/1.png`);
    expectRefused(link, 404);
    expect(link.json().message).toMatch(/not in the output folder/);
    const folder = await get(`/studies/${evil.id}/key-images/2.png`);
    expectRefused(folder, 404);
    expect(folder.json().message).toMatch(/not a file/);
  });

  it('checks output names and Content-Disposition file names', () => {
    for (const ok of ['sr.dcm', 'seg-sagittal.dcm', 'key-images/1.png', 'key-image-1.dcm']) {
      expect(isSafeOutputName(ok)).toBe(true);
    }
    for (const bad of ['', '.', '..', '../x.dcm', '/etc/passwd', 'a//b', 'a\\b', 'a\0b', 'x/./y', 'é.dcm']) {
      expect({ bad, ok: isSafeOutputName(bad) }).toEqual({ bad, ok: false });
    }
    expect(dispositionName('seg-sagittal.dcm')).toBe('seg-sagittal.dcm');
    expect(dispositionName('dir/sr"\r\nX-Evil: 1.dcm')).toBe('sr___X-Evil__1.dcm');
    expect(dispositionName('')).toBe('download');
  });
});
