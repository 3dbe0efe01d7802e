import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { ALGORITHM, type Config, type Logger } from '@lumbar/core';
import {
  createApiKey,
  ensureAnalysis,
  markExportResult,
  openDb,
  recordInstance,
  saveAnalysisResult,
  type FindingInput,
} from '@lumbar/db';
import { openQueues, redisConnection, type Queues } from '@lumbar/jobs';
import { buildApi, METRIC_NAMES, startApi } from '@lumbar/api';
import { useTestDatabase } from '../helpers/db';
import { makeTmpDir, removeDir } from '../helpers/files';
import { testConfig } from '../helpers/services';

const t = useTestDatabase();
const PATIENT_NAME = 'Doe^Jane';
const PATIENT_ID = 'PAT-0001';
const DESTINATIONS = ['PACS@127.0.0.1:104', 'ARCHIVE@127.0.0.1:105'];
const DICM = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from('seg bytes')]);
const SR = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from('sr bytes')]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

let config: Config;
let redis: ReturnType<typeof redisConnection>;
let queues: Queues;
let app: FastifyInstance;
let outRoot: string;
let logText = '';
let admin: string;
let reader: string;
const BAD_KEY = 'lk_zzzzzzzz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const studies: Record<'a' | 'b' | 'c', { id: number; uid: string }> = {} as never;

/** A logger that keeps every line, so that the test can check what was logged. */
function capturingLogger(): Logger {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logText += String(chunk);
      cb();
    },
  });
  return pino({ level: 'debug' }, sink);
}

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const get = (url: string, key: string | null = reader) =>
  app.inject({ method: 'GET', url, headers: key ? auth(key) : {} });
const post = (url: string, key: string | null = admin) =>
  app.inject({ method: 'POST', url, headers: key ? auth(key) : {} });

async function seedStudy(n: number): Promise<{ id: number; uid: string }> {
  const uid = `1.2.826.0.1.3680043.10.543.${n}`;
  const r = await recordInstance(t.db, {
    studyInstanceUid: uid,
    seriesInstanceUid: `${uid}.1`,
    sopInstanceUid: `${uid}.1.1`,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    path: `/nowhere/${n}.dcm`,
    sizeBytes: 1000,
    sha256: 'ab'.repeat(32),
    callingAeTitle: 'STORESCU',
    patientId: PATIENT_ID,
    patientName: PATIENT_NAME,
    accessionNumber: `ACC${n}`,
    studyDate: '20240102',
    studyDescription: 'MR LUMBAR SPINE',
    modality: 'MR',
    seriesNumber: 1,
    seriesDescription: 'T2 SAG',
  });
  return { id: r.studyId, uid };
}

const level = (lvl: string, diagnosis: string): FindingInput => ({
  level: lvl,
  diagnosis,
  probabilities: { healthy: 0.1, bulge: 0.1, central: 0.1, left: 0.1, right: 0.1, [diagnosis]: 0.6 },
  reason: null,
});

/** Stores a finished analysis the way the worker does, with its files in a folder of its own. */
async function seedResult(
  studyId: number,
  levels: FindingInput[],
  opts: { version?: string; destinations?: string[]; withFiles?: boolean } = {},
) {
  const analysis = await ensureAnalysis(t.db, studyId, {
    name: ALGORITHM.name,
    version: opts.version ?? ALGORITHM.version,
  });
  const outputDir = path.join(outRoot, String(studyId), String(analysis.id));
  mkdirSync(path.join(outputDir, 'key-images'), { recursive: true });
  if (opts.withFiles !== false) {
    writeFileSync(path.join(outputDir, 'seg-sagittal.dcm'), DICM);
    writeFileSync(path.join(outputDir, 'sr.dcm'), SR);
    writeFileSync(path.join(outputDir, 'key-images', '1.png'), PNG);
  }
  const summary = levels.map((l) => `${l.level} ${l.diagnosis}`).join('; ');
  const uid = (s: string) => `2.25.${studyId}.${analysis.id}.${s}`;
  const outputs = [
    { kind: 'seg', view: 'sagittal', file: 'seg-sagittal.dcm', sopClassUid: '1.2.840.10008.5.1.4.1.1.66.4' },
    { kind: 'seg', view: 'axial', file: 'seg-axial.dcm', sopClassUid: '1.2.840.10008.5.1.4.1.1.66.4' },
    { kind: 'sr', file: 'sr.dcm', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.33' },
    { kind: 'key-image', file: 'key-image-1.dcm', sopClassUid: '1.2.840.10008.5.1.4.1.1.7' },
  ].map((o, i) => ({ ...o, sopInstanceUid: uid(`${i}1`), seriesInstanceUid: uid(`${i}2`) }));
  const document = {
    summary,
    levels,
    keyImages: [{ file: 'key-images/1.png', title: 'mid-sagittal', sopInstanceUid: '1.2.3' }],
  };
  await saveAnalysisResult(
    t.db,
    { analysisId: analysis.id, studyId, summary, document, outputDir },
    levels,
    outputs,
    opts.destinations ?? [],
  );
  return { analysisId: analysis.id, summary };
}

beforeAll(async () => {
  config = testConfig(t.url, { LUMBAR_EXPORT_ATTEMPTS: '4', LUMBAR_EXPORT_BACKOFF_MS: '1000' });
  outRoot = makeTmpDir('api-out');
  redis = redisConnection(config.redisUrl, 'producer');
  queues = openQueues(redis, config.queuePrefix);
  admin = (await createApiKey(t.db, ['admin'], 'test admin')).key;
  reader = (await createApiKey(t.db, ['read'], 'test reader')).key;
  studies.a = await seedStudy(1);
  studies.b = await seedStudy(2);
  studies.c = await seedStudy(3);
  await seedResult(studies.a.id, [level('L4-L5', 'left'), level('L5-S1', 'healthy')], {
    destinations: DESTINATIONS,
  });
  await seedResult(studies.b.id, [level('L4-L5', 'bulge'), level('L5-S1', 'central')]);
  // Received on known days: a and b on 2024-03-01, c on 2024-03-05.
  await t.db.study.updateMany({
    where: { id: { in: [studies.a.id, studies.b.id] } },
    data: { firstReceivedAt: new Date('2024-03-01T10:00:00Z') },
  });
  await t.db.study.update({
    where: { id: studies.c.id },
    data: { firstReceivedAt: new Date('2024-03-05T10:00:00Z') },
  });
  app = await buildApi({ config, db: t.db, queues, redis, log: capturingLogger() });
});

afterAll(async () => {
  await app?.close();
  await queues?.studies.obliterate({ force: true }).catch(() => undefined);
  await queues?.exports.obliterate({ force: true }).catch(() => undefined);
  await queues?.close();
  redis?.disconnect();
  if (outRoot) removeDir(outRoot);
});

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

describe('studies', () => {
  it('lists studies newest first, without patient identity', async () => {
    const res = await get('/studies');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.total).toBe(3);
    expect(body.items.map((s: { id: number }) => s.id)).toEqual([studies.c.id, studies.b.id, studies.a.id]);
    expect(body.items[2]).toMatchObject({
      studyInstanceUid: studies.a.uid,
      accessionNumber: 'ACC1',
      status: 'analyzed',
      instanceCount: 1,
      firstReceivedAt: '2024-03-01T10:00:00.000Z',
    });
    expect(res.body).not.toContain(PATIENT_NAME);
    expect(res.body).not.toContain(PATIENT_ID);
  });

  it('filters by status and by received date range', async () => {
    const analyzed = (await get('/studies?status=analyzed')).json();
    expect(analyzed.items.map((s: { id: number }) => s.id).sort()).toEqual(
      [studies.a.id, studies.b.id].sort(),
    );
    const march5 = (
      await get('/studies?receivedFrom=2024-03-02T00:00:00Z&receivedTo=2024-03-06T00:00:00Z')
    ).json();
    expect(march5.items.map((s: { id: number }) => s.id)).toEqual([studies.c.id]);
    const both = (await get('/studies?status=analyzed&receivedTo=2024-03-02T00:00:00Z')).json();
    expect(both.total).toBe(2);
    expect((await get('/studies?status=nonsense')).statusCode).toBe(400);
    expect((await get('/studies?receivedFrom=yesterday')).statusCode).toBe(400);
  });

  it('paginates in a stable order: pages together hold every study once', async () => {
    const p1 = (await get('/studies?limit=2&offset=0')).json();
    const p2 = (await get('/studies?limit=2&offset=2')).json();
    expect(p1.items).toHaveLength(2);
    expect(p2.items).toHaveLength(1);
    expect(p1).toMatchObject({ total: 3, limit: 2, offset: 0 });
    const ids = [...p1.items, ...p2.items].map((s: { id: number }) => s.id);
    expect(new Set(ids).size).toBe(3);
    expect((await get('/studies?limit=2&offset=0')).json().items).toEqual(p1.items);
    const bad = await get('/studies?limit=0');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/limit/) });
  });

  it('shows one study with its series and analyses; 404 for an unknown one', async () => {
    const res = await get(`/studies/${studies.a.id}`);
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s.series).toEqual([
      {
        seriesInstanceUid: `${studies.a.uid}.1`,
        modality: 'MR',
        seriesNumber: 1,
        seriesDescription: 'T2 SAG',
        instanceCount: 1,
      },
    ]);
    expect(s.analyses).toHaveLength(1);
    expect(s.analyses[0]).toMatchObject({ algorithm: { name: ALGORITHM.name }, status: 'succeeded' });
    expect(res.body).not.toContain(PATIENT_NAME);
    const missing = await get('/studies/999999');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'NOT_FOUND', message: 'study 999999 does not exist' });
    expect((await get('/studies/abc')).statusCode).toBe(400);
  });

  it('gives the findings of a study with the algorithm and the disclaimer', async () => {
    const res = await get(`/studies/${studies.a.id}/findings`);
    expect(res.statusCode).toBe(200);
    const f = res.json();
    expect(f).toMatchObject({
      studyId: studies.a.id,
      studyInstanceUid: studies.a.uid,
      summary: 'L4-L5 left; L5-S1 healthy',
      algorithm: { name: ALGORITHM.name, version: ALGORITHM.version },
      keyImages: [{ n: 1, title: 'mid-sagittal', url: `/studies/${studies.a.id}/key-images/1.png` }],
    });
    expect(f.disclaimer).toMatch(/not for primary diagnosis/i);
    expect(f.levels).toEqual([
      expect.objectContaining({ level: 'L4-L5', diagnosis: 'left', reason: null }),
      expect.objectContaining({ level: 'L5-S1', diagnosis: 'healthy' }),
    ]);
    expect(f.levels[0].probabilities.left).toBeCloseTo(0.6);
    const none = await get(`/studies/${studies.c.id}/findings`);
    expect(none.statusCode).toBe(404);
    expect(none.json().message).toMatch(/no analysis results/);
  });
});

describe('the findings feed (RIS polling)', () => {
  type Item = { cursor: string; studyId: number; analysisId: number; level: string; diagnosis: string };

  /** Polls from `since` with pages of `limit` until the feed is drained. */
  async function drain(since: string | undefined, limit = 2) {
    const items: Item[] = [];
    let cursor = since;
    for (let page = 0; page < 100; page++) {
      const q = new URLSearchParams({ limit: String(limit), ...(cursor ? { since: cursor } : {}) });
      const res = await get(`/findings?${q}`);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.items.length).toBeLessThanOrEqual(limit);
      items.push(...body.items);
      cursor = body.nextCursor;
      if (!body.hasMore) return { items, cursor: cursor! };
    }
    throw new Error('the feed did not end');
  }

  const inDbOrder = async () =>
    (await t.db.finding.findMany({ orderBy: { id: 'asc' } })).map((f) => `${f.analysisId}/${f.level}`);
  const keys = (items: Item[]) => items.map((i) => `${i.analysisId}/${i.level}`);
  let cursor: string;

  it('returns every finding exactly once, in commit order, in pages of 2', async () => {
    const all = await drain(undefined);
    expect(keys(all.items)).toEqual(await inDbOrder());
    expect(all.items).toHaveLength(4);
    expect(new Set(all.items.map((i) => i.cursor)).size).toBe(4);
    expect(all.items[0]).toMatchObject({ studyId: studies.a.id, level: 'L4-L5', diagnosis: 'left' });
    const again = (await get(`/findings?since=${all.cursor}`)).json();
    expect(again).toMatchObject({ items: [], nextCursor: all.cursor, hasMore: false });
    cursor = all.cursor;
  });

  it('shows findings added after the last page on the next poll, and a re-analysis as new items', async () => {
    const d = await seedStudy(4);
    await seedResult(d.id, [level('L4-L5', 'right'), level('L5-S1', 'bulge')]);
    const next = await drain(cursor);
    expect(next.items.map((i) => [i.studyId, i.level, i.diagnosis])).toEqual([
      [d.id, 'L4-L5', 'right'],
      [d.id, 'L5-S1', 'bulge'],
    ]);
    // Re-analysis of study a: its findings are replaced, the new ones come after the cursor.
    await seedResult(studies.a.id, [level('L4-L5', 'central'), level('L5-S1', 'healthy')]);
    const re = await drain(next.cursor);
    expect(re.items.map((i) => [i.studyId, i.level, i.diagnosis])).toEqual([
      [studies.a.id, 'L4-L5', 'central'],
      [studies.a.id, 'L5-S1', 'healthy'],
    ]);
    expect((await drain(re.cursor)).items).toEqual([]);
    cursor = re.cursor;
  });

  it('never skips nor repeats while analyses are committed concurrently', async () => {
    const more = await Promise.all([5, 6, 7, 8, 9, 10].map(seedStudy));
    const writers = Promise.all(
      more.map((s, i) =>
        seedResult(s.id, [level('L4-L5', i % 2 ? 'left' : 'bulge'), level('L5-S1', 'healthy')]),
      ),
    );
    const seen: Item[] = [];
    let c = cursor;
    let done = false as boolean;
    void writers.then(() => (done = true));
    for (let polls = 0; polls < 10_000 && (!done || seen.length < 12); polls++) {
      const body = (await get(`/findings?since=${c}&limit=3`)).json();
      seen.push(...body.items);
      c = body.nextCursor;
      if (done && !body.hasMore && seen.length >= 12) break;
    }
    await writers;
    expect(seen).toHaveLength(12);
    expect(new Set(keys(seen)).size).toBe(12);
    expect(keys(seen)).toEqual((await inDbOrder()).slice(-12));
  });

  it('refuses a cursor it did not issue', async () => {
    for (const since of ['123', 'abc', Buffer.from('f1:-1').toString('base64url'), 'bad cursor!']) {
      const res = await get(`/findings?since=${encodeURIComponent(since)}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toMatch(/BAD_INPUT|VALIDATION/);
    }
  });
});

describe('downloads', () => {
  it('serves the SEG per view, the SR and key images with their content types', async () => {
    const seg = await get(`/studies/${studies.b.id}/seg?view=sagittal`);
    expect(seg.statusCode).toBe(200);
    expect(seg.headers['content-type']).toBe('application/dicom');
    expect(seg.headers['content-disposition']).toBe('attachment; filename="seg-sagittal.dcm"');
    expect(seg.rawPayload.equals(DICM)).toBe(true);
    const sr = await get(`/studies/${studies.b.id}/sr`);
    expect(sr.statusCode).toBe(200);
    expect(sr.headers['content-type']).toBe('application/dicom');
    expect(sr.rawPayload.equals(SR)).toBe(true);
    const png = await get(`/studies/${studies.b.id}/key-images/1.png`);
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.equals(PNG)).toBe(true);
  });

  it('answers 404 for missing files and studies, 400 for a bad view', async () => {
    const cases: [string, number, RegExp][] = [
      [`/studies/${studies.b.id}/seg?view=axial`, 404, /file missing/],
      [`/studies/${studies.b.id}/key-images/2.png`, 404, /key image 2/],
      [`/studies/${studies.c.id}/seg?view=sagittal`, 404, /no analysis results/],
      [`/studies/${studies.c.id}/sr`, 404, /no analysis results/],
      ['/studies/999999/key-images/1.png', 404, /does not exist/],
      [`/studies/${studies.b.id}/seg?view=coronal`, 400, /view/],
      [`/studies/${studies.b.id}/seg`, 400, /view/],
      [`/studies/${studies.b.id}/key-images/0.png`, 400, /n/],
    ];
    for (const [url, status, message] of cases) {
      const res = await get(url);
      expect({ url, status: res.statusCode }).toEqual({ url, status });
      expect(res.json().message).toMatch(message);
    }
  });
});

describe('re-analysis', () => {
  it('queues study.reanalyze with a unique job id, sets the study queued and audits it', async () => {
    const r1 = await post(`/studies/${studies.b.id}/reanalyze`);
    const r2 = await post(`/studies/${studies.b.id}/reanalyze`);
    expect(r1.statusCode).toBe(202);
    expect(r1.json()).toMatchObject({ studyId: studies.b.id, status: 'queued' });
    expect(r1.json().jobId).not.toBe(r2.json().jobId);
    for (const r of [r1, r2]) {
      const job = await queues.studies.getJob(r.json().jobId);
      expect(job?.name).toBe('study.reanalyze');
      expect(job?.data).toEqual({ studyId: studies.b.id });
    }
    const waiting = await queues.studies.getWaiting();
    expect(waiting.filter((j) => j.name === 'study.reanalyze')).toHaveLength(2);
    expect((await t.db.study.findUniqueOrThrow({ where: { id: studies.b.id } })).status).toBe('queued');
    const events = await t.db.auditEvent.findMany({ where: { action: 'study.reanalyze' } });
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ subjectType: 'study', subjectId: String(studies.b.id) });
    expect(events[0].actor).toBe(`api-key:${admin.split('_')[1]}`);
    expect(JSON.stringify(events)).not.toContain(admin);
    const missing = await post('/studies/999999/reanalyze');
    expect(missing.statusCode).toBe(404);
  });
});

describe('exports', () => {
  let failed: number;
  let succeeded: number;

  beforeAll(async () => {
    const rows = await t.db.export.findMany({ orderBy: { id: 'asc' } });
    expect(rows.map((r) => r.destination)).toEqual(DESTINATIONS);
    [failed, succeeded] = rows.map((r) => r.id);
    await markExportResult(t.db, failed, {
      ok: false,
      final: true,
      status: 0xa700,
      error: 'out of resources',
    });
    await t.db.export.update({ where: { id: failed }, data: { attempts: 4 } });
    await markExportResult(t.db, succeeded, { ok: true, final: true, status: 0 });
  });

  it('lists exports by status, paginated', async () => {
    const list = (await get('/exports?status=failed')).json();
    expect(list.total).toBe(1);
    expect(list.items[0]).toMatchObject({
      id: failed,
      studyId: studies.a.id,
      studyInstanceUid: studies.a.uid,
      destination: DESTINATIONS[0],
      status: 'failed',
      attempts: 4,
      lastStatus: 0xa700,
      lastError: 'out of resources',
      sentAt: null,
    });
    const all = (await get('/exports?limit=1')).json();
    expect(all).toMatchObject({ total: 2, limit: 1 });
    expect(all.items).toHaveLength(1);
    expect(all.items[0].id).toBe(succeeded);
    expect((await get('/exports?limit=1&offset=1')).json().items[0].id).toBe(failed);
  });

  it('retries a failed export: pending, a fresh budget, a queued job and an audit event', async () => {
    const before = await t.db.export.findUniqueOrThrow({ where: { id: failed } });
    const res = await post(`/exports/${failed}/retry`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.export).toMatchObject({ id: failed, status: 'pending', attempts: 0, lastError: null });
    const job = await queues.exports.getJob(body.jobId);
    expect(job?.name).toBe('export.send');
    expect(job?.data).toEqual({ exportId: failed });
    expect(job?.opts.attempts).toBe(4);
    const after = await t.db.export.findUniqueOrThrow({ where: { id: failed } });
    expect(after.updatedAt.getTime()).toBeGreaterThan(before.updatedAt.getTime());
    expect(body.jobId).toBe(`export-${failed}-${after.updatedAt.getTime()}`);
    const audit = await t.db.auditEvent.findFirstOrThrow({ where: { action: 'export.retry' } });
    expect(audit).toMatchObject({ subjectType: 'export', subjectId: String(failed) });
    // Now pending: a second retry conflicts.
    const again = await post(`/exports/${failed}/retry`);
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toMatch(/is pending/);
  });

  it('answers 409 for a succeeded export and 404 for an unknown one', async () => {
    const done = await post(`/exports/${succeeded}/retry`);
    expect(done.statusCode).toBe(409);
    expect(done.json()).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/succeeded/) });
    expect(await queues.exports.getJobCounts('waiting')).toEqual({ waiting: 1 });
    const missing = await post('/exports/999999/retry');
    expect(missing.statusCode).toBe(404);
  });
});

describe('operator dashboard', () => {
  it('summarises what flows and what fails, as the database and the queues say', async () => {
    // a failed analysis of study c, as the worker leaves one
    const failedAnalysis = await ensureAnalysis(t.db, studies.c.id, {
      name: ALGORITHM.name,
      version: ALGORITHM.version,
    });
    await t.db.analysis.update({
      where: { id: failedAnalysis.id },
      data: { status: 'failed', lastError: 'no sagittal T2 series', finishedAt: new Date() },
    });
    await t.db.study.update({ where: { id: studies.c.id }, data: { status: 'failed' } });
    const res = await get('/dashboard/summary');
    expect(res.statusCode).toBe(200);
    const s = res.json();
    const asMap = (rows: { status: string; _count: { _all: number } }[]) =>
      Object.fromEntries(rows.map((r) => [r.status, r._count._all]));
    const studyRows = await t.db.study.groupBy({ by: ['status'], _count: { _all: true } });
    const exportRows = await t.db.export.groupBy({ by: ['status'], _count: { _all: true } });
    const studiesNow = asMap(studyRows);
    const exportsNow = asMap(exportRows);
    for (const [k, v] of Object.entries(s.studies)) expect(v).toBe(studiesNow[k] ?? 0);
    expect(s.studies.failed).toBeGreaterThanOrEqual(1);
    for (const [k, v] of Object.entries(s.exports)) expect(v).toBe(exportsNow[k] ?? 0);
    expect(Object.keys(s.queues).sort()).toEqual([queues.exports.name, queues.studies.name].sort());
    expect(s.queues[queues.exports.name].waiting).toBe(await queues.exports.getWaitingCount());
    const last = await t.db.instance.aggregate({ _max: { receivedAt: true } });
    expect(s.lastInstanceAt).toBe(last._max.receivedAt!.toISOString());
    expect(s.last24h.instancesReceived).toBe(
      await t.db.instance.count({ where: { receivedAt: { gte: new Date(Date.now() - 24 * 3600 * 1000) } } }),
    );
    expect(s.last24h.analysesFailed).toBeGreaterThanOrEqual(1);
    expect(s.failures[0]).toMatchObject({
      kind: 'analysis',
      id: failedAnalysis.id,
      studyId: studies.c.id,
      studyInstanceUid: studies.c.uid,
      error: 'no sagittal T2 series',
    });
    expect(s.algorithm).toEqual({ name: ALGORITHM.name, version: ALGORITHM.version });
    // no patient identity on the dashboard
    expect(res.body).not.toContain(PATIENT_NAME);
    expect(res.body).not.toContain(PATIENT_ID);
  });

  it('serves the page without a key; the page holds no data, only the script that asks for a key', async () => {
    const page = await get('/dashboard', null);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain("base + '/summary'");
    // its script parses (a syntax error would leave operators with a blank page)
    const script = /<script>([\s\S]*)<\/script>/.exec(page.body)![1];
    expect(() => new Function(script)).not.toThrow();
    expect(page.body).toContain('Bearer');
    expect(page.body).toMatch(/Not for primary diagnosis/);
    expect(page.body).not.toContain(studies.a.uid);
    expect((await get('/dashboard/summary', null)).statusCode).toBe(401);
  });
});

describe('FHIR R4', () => {
  it('returns a searchset Bundle of DiagnosticReport with one Observation per level', async () => {
    const res = await get(`/fhir/DiagnosticReport?study=${studies.b.uid}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const bundle = res.json();
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
    const [entry] = bundle.entry;
    expect(entry.search).toEqual({ mode: 'match' });
    const report = entry.resource;
    expect(entry.fullUrl).toMatch(new RegExp(`/fhir/DiagnosticReport/${report.id}$`));
    expect(report).toMatchObject({
      resourceType: 'DiagnosticReport',
      status: 'preliminary',
      identifier: [
        { system: 'urn:dicom:uid', value: `urn:oid:${studies.b.uid}` },
        { type: { coding: [{ code: 'ACSN' }] }, value: 'ACC2' },
      ],
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '24968-0' }] },
      conclusion: 'L4-L5 bulge; L5-S1 central',
      effectiveDateTime: '2024-01-02',
    });
    expect(report.text.div).toMatch(/^<div xmlns="http:\/\/www.w3.org\/1999\/xhtml">/);
    expect(report.text.div).toMatch(/not for primary diagnosis/i);
    expect(report.performer[0].display).toContain(`${ALGORITHM.name} ${ALGORITHM.version}`);
    const device = report.contained.find((r: { resourceType: string }) => r.resourceType === 'Device');
    expect(device).toMatchObject({
      version: [{ value: ALGORITHM.version }],
      deviceName: [{ name: ALGORITHM.name }],
    });
    const obs = report.contained.filter((r: { resourceType: string }) => r.resourceType === 'Observation');
    expect(obs).toHaveLength(2);
    expect(report.result.map((r: { reference: string }) => r.reference)).toEqual(
      obs.map((o: { id: string }) => `#${o.id}`),
    );
    expect(obs[0]).toMatchObject({
      status: 'preliminary',
      code: { coding: [{ code: 'L4-L5' }] },
      valueCodeableConcept: { coding: [{ code: 'bulge' }], text: 'bulge' },
      device: { reference: '#algorithm' },
    });
    expect(obs[0].component).toHaveLength(5);
    const bulge = obs[0].component.find(
      (c: { code: { text: string } }) => c.code.text === 'probability of bulge',
    );
    expect(bulge.valueQuantity).toMatchObject({ value: 0.6, system: 'http://unitsofmeasure.org', code: '1' });
    expect(obs[0].note.map((n: { text: string }) => n.text).join(' ')).toMatch(/not for primary diagnosis/i);
    // Valid JSON for FHIR: no nulls, no empty strings, no patient identity.
    expect(res.body).not.toMatch(/null|""/);
    expect(res.body).not.toContain(PATIENT_NAME);
    const read = await get(new URL(entry.fullUrl).pathname);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(report);
  });

  it('returns an empty Bundle for an unknown study and 400 without one', async () => {
    const empty = (await get('/fhir/DiagnosticReport?study=1.2.3.4')).json();
    expect(empty).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] });
    expect((await get('/fhir/DiagnosticReport')).statusCode).toBe(400);
    expect((await get('/fhir/DiagnosticReport/lumbar-999999')).statusCode).toBe(404);
  });
});

describe('operations', () => {
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
    const down = await buildApi({ config, db: t.db, queues, redis: deadRedis, log: capturingLogger() });
    const noDb = await buildApi({ config, db: deadDb, queues, redis, log: capturingLogger() });
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
    expect(logText.length).toBeGreaterThan(0);
    expect(logText).not.toContain(PATIENT_NAME);
    expect(logText).not.toContain(PATIENT_ID);
    expect(logText).not.toContain(admin);
    expect(logText).not.toContain(reader);
  });

  it('startApi seeds the bootstrap key and listens', async () => {
    const key = 'lk_bootstr1_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
    const cfg = testConfig(t.url, { LUMBAR_API_HOST: '127.0.0.1', LUMBAR_BOOTSTRAP_API_KEY: key });
    const api = await startApi({ config: cfg, db: t.db, queues, redis, log: capturingLogger() });
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
