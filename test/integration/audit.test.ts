import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Config } from '@lumbar/core';
import { createApiKey, recordInstance, verifyApiKey } from '@lumbar/db';
import { openQueues, redisConnection, type Queues } from '@lumbar/jobs';
import { buildApi, startApi } from '@lumbar/api';
import { useTestDatabase } from '../helpers/db';
import { cliMain } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { testConfig } from '../helpers/services';

// The audit trail (PS3.15-style events in audit_events), GET /audit, and API key management: list, revoke
// and expiry through the CLI, and what the API does with revoked and expired keys.

const t = useTestDatabase();
const lumbar = (args: string[]) =>
  runTool(process.execPath, [cliMain, ...args], { env: { ...process.env, LUMBAR_DATABASE_URL: t.url } });

let config: Config;
let redis: ReturnType<typeof redisConnection>;
let queues: Queues;
let app: FastifyInstance;
let admin: string;
let reader: string;

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const get = (url: string, key: string | null) =>
  app.inject({ method: 'GET', url, headers: key ? auth(key) : {} });
const prefixOf = (key: string) => key.split('_')[1];

interface AuditItem {
  id: number;
  at: string;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string | null;
  details: Record<string, unknown> | null;
}

/** Every event whose action is `action`, straight from the table. */
const events = (action: string) => t.db.auditEvent.findMany({ where: { action }, orderBy: { id: 'asc' } });

beforeAll(async () => {
  config = testConfig(t.url);
  redis = redisConnection(config.redisUrl, 'producer');
  queues = openQueues(redis, config.queuePrefix);
  admin = (await createApiKey(t.db, ['admin', 'read'], 'audit admin')).key;
  reader = (await createApiKey(t.db, ['read'], 'audit reader')).key;
  app = await buildApi({ config, db: t.db, queues, redis, log: silentLogger() });
});

afterAll(async () => {
  await app?.close();
  await queues?.studies.obliterate({ force: true }).catch(() => undefined);
  await queues?.close();
  redis?.disconnect();
});

function silentLogger() {
  return pino({ level: 'silent' });
}

describe('lumbar apikey create / list / revoke', () => {
  it('creates a key that expires, lists it without its hash and audits the creation', async () => {
    const run = await lumbar(['apikey', 'create', '--scope', 'read', '--name', 'ris', '--expires-in', '30']);
    expect(run.code).toBe(0);
    const key = run.stdout.trim();
    expect(key).toMatch(/^lk_[a-z0-9]{8}_[A-Za-z0-9_-]{32,}$/);
    expect(run.stderr).toMatch(/the key expires at \d{4}-\d\d-\d\dT/);
    const row = await t.db.apiKey.findUniqueOrThrow({ where: { prefix: prefixOf(key) } });
    const days = (row.expiresAt!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    expect(await verifyApiKey(t.db, key)).toEqual(['read']);

    const created = (await events('apikey.create')).find((e) => e.subjectId === prefixOf(key));
    expect(created).toMatchObject({ subjectType: 'api-key', actor: expect.stringMatching(/^cli:.+/) });
    expect(created!.details).toMatchObject({ name: 'ris', scopes: ['read'] });
    expect(JSON.stringify(created)).not.toContain(key.split('_')[2]);

    await get('/studies', key); // sets last used
    await new Promise((r) => setTimeout(r, 200)); // lastUsedAt is written in the background

    const list = await lumbar(['apikey', 'list']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual([
      'PREFIX',
      'NAME',
      'SCOPES',
      'STATE',
      'CREATED',
      'LAST USED',
      'EXPIRES',
      'REVOKED',
    ]);
    const line = lines.find((l) => l.startsWith(prefixOf(key)))!;
    expect(line.split(/\s+/)).toEqual([
      prefixOf(key),
      'ris',
      'read',
      'active',
      row.createdAt.toISOString(),
      expect.stringMatching(/^\d{4}-/),
      row.expiresAt!.toISOString(),
      '-',
    ]);
    expect(list.stdout).not.toContain(row.hash);
    expect(list.stdout).not.toContain(key.split('_')[2]);

    const json = await lumbar(['apikey', 'list', '--json']);
    expect(json.code).toBe(0);
    const keys = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(keys.find((k) => k.prefix === prefixOf(key))).toEqual({
      prefix: prefixOf(key),
      name: 'ris',
      scopes: ['read'],
      state: 'active',
      createdAt: row.createdAt.toISOString(),
      lastUsedAt: expect.any(String),
      expiresAt: row.expiresAt!.toISOString(),
      revokedAt: null,
    });
    expect(json.stdout).not.toContain(row.hash);
  });

  it('takes an ISO date with --expires-at and refuses bad or contradictory expiries with exit code 2', async () => {
    const at = await lumbar(['apikey', 'create', '--expires-at', '2099-01-31T18:00:00Z']);
    expect(at.code).toBe(0);
    const row = await t.db.apiKey.findUniqueOrThrow({ where: { prefix: prefixOf(at.stdout.trim()) } });
    expect(row.expiresAt!.toISOString()).toBe('2099-01-31T18:00:00.000Z');

    const cases: [string[], RegExp][] = [
      [['--expires-in', '1', '--expires-at', '2099-01-01'], /--expires-in or --expires-at, not both/],
      [['--expires-in', '0'], /--expires-in: "0" is not a number of days above 0/],
      [['--expires-in', 'soon'], /--expires-in: "soon" is not a number of days/],
      [['--expires-at', 'next week'], /--expires-at: "next week" is not an ISO 8601 date/],
      [['--expires-at', '2001-01-01'], /--expires-at: 2001-01-01T00:00:00.000Z is in the past/],
    ];
    const before = await t.db.apiKey.count();
    for (const [args, message] of cases) {
      const run = await lumbar(['apikey', 'create', ...args]);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
    expect(await t.db.apiKey.count()).toBe(before);
  });

  it('revokes a key by its prefix, audits it once, and says so when it is already revoked', async () => {
    const { key } = await createApiKey(t.db, ['read'], 'to revoke');
    const prefix = prefixOf(key);
    expect((await get('/studies', key)).statusCode).toBe(200);

    const run = await lumbar(['apikey', 'revoke', prefix]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`revoked API key ${prefix} (to revoke)\n`);
    expect(await verifyApiKey(t.db, key)).toBeNull();
    const res = await get('/studies', key);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'UNAUTHORIZED' });

    const again = await lumbar(['apikey', 'revoke', prefix]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^API key ${prefix} was already revoked at \\d{4}-`));

    const revoked = (await events('apikey.revoke')).filter((e) => e.subjectId === prefix);
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({ subjectType: 'api-key', actor: expect.stringMatching(/^cli:.+/) });

    const list = await lumbar(['apikey', 'list']);
    expect(list.stdout.split('\n').find((l) => l.startsWith(prefix))).toMatch(
      /\brevoked\b.*\d{4}-\d\d-\d\dT[\d:.]+Z$/,
    );
  });

  it('refuses to revoke an unknown prefix or something that is no prefix, with exit code 2 and a sentence', async () => {
    const unknown = await lumbar(['apikey', 'revoke', 'zzzz9999']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('lumbar: no API key has the prefix zzzz9999 (see lumbar apikey list)\n');
    const bad = await lumbar(['apikey', 'revoke', 'NOT-A-PREFIX']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a key prefix: give the 8 lowercase letters or digits after lk_/);
    // A whole key pasted by mistake is not echoed.
    const pasted = await lumbar(['apikey', 'revoke', admin]);
    expect(pasted.code).toBe(2);
    expect(pasted.stderr).not.toContain(admin.split('_')[2]);
    expect(await verifyApiKey(t.db, admin)).toEqual(['admin', 'read']);
  });
});

describe('keys the API refuses', () => {
  it('accepts a key until it expires, then answers 401 and audits why', async () => {
    const { key } = await createApiKey(t.db, ['read'], 'short-lived', undefined, {
      expiresAt: new Date(Date.now() + 60_000),
    });
    expect((await get('/studies', key)).statusCode).toBe(200);
    await t.db.apiKey.update({
      where: { prefix: prefixOf(key) },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const res = await get('/studies', key);
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/expired/);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(await verifyApiKey(t.db, key)).toBeNull();
    const denied = (await events('api.access-denied')).filter((e) => e.actor === `api-key:${prefixOf(key)}`);
    expect(denied.at(-1)!.details).toMatchObject({ status: 401, reason: 'expired' });
  });

  it('keeps a revoked bootstrap key revoked when the API starts again, and audits its creation once', async () => {
    const bootstrap = 'lk_boot0001_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
    const start = async () => {
      const c = testConfig(t.url, { LUMBAR_BOOTSTRAP_API_KEY: bootstrap, LUMBAR_API_HOST: '127.0.0.1' });
      const api = await startApi({ config: c, db: t.db, queues, redis, log: silentLogger() });
      await api.close();
    };
    await start();
    await start();
    expect(await verifyApiKey(t.db, bootstrap)).toEqual(['admin', 'read']);
    const created = (await events('apikey.create')).filter((e) => e.subjectId === 'boot0001');
    expect(created).toHaveLength(1);
    expect(created[0].actor).toBe('api:bootstrap');
    expect(JSON.stringify(created)).not.toContain('BBBBBBBB');

    expect((await lumbar(['apikey', 'revoke', 'boot0001'])).code).toBe(0);
    await start();
    expect(await verifyApiKey(t.db, bootstrap)).toBeNull();
  });
});

describe('access denied is audited', () => {
  it('records 401s (no key, unknown key, malformed key) with route, method, IP and key prefix, never the key', async () => {
    const since = new Date().toISOString();
    const unknown = 'lk_nokey123_SECRETSECRETSECRETSECRETSECRETSECRET';
    expect((await get('/studies', null)).statusCode).toBe(401);
    expect((await get('/exports?status=failed', unknown)).statusCode).toBe(401);
    expect(
      (
        await app.inject({
          method: 'GET',
          url: '/findings',
          headers: { authorization: 'Bearer not-a-key-but-maybe-a-password' },
        })
      ).statusCode,
    ).toBe(401);
    const rows = await t.db.auditEvent.findMany({
      where: { action: 'api.access-denied', at: { gte: new Date(since) } },
      orderBy: { id: 'asc' },
    });
    expect(rows.map((r) => [r.actor, r.subjectType, r.subjectId, r.details])).toEqual([
      [
        'anonymous',
        'route',
        'GET /studies',
        {
          status: 401,
          reason: 'missing',
          method: 'GET',
          route: '/studies',
          ip: '127.0.0.1',
          keyPrefix: null,
        },
      ],
      [
        'api-key:nokey123',
        'route',
        'GET /exports',
        {
          status: 401,
          reason: 'unknown',
          method: 'GET',
          route: '/exports',
          ip: '127.0.0.1',
          keyPrefix: 'nokey123',
        },
      ],
      [
        'anonymous',
        'route',
        'GET /findings',
        {
          status: 401,
          reason: 'malformed',
          method: 'GET',
          route: '/findings',
          ip: '127.0.0.1',
          keyPrefix: null,
        },
      ],
    ]);
    const text = JSON.stringify(rows);
    expect(text).not.toContain('SECRET');
    expect(text).not.toContain('password');
    expect(text).not.toContain('status=failed');
  });

  it('records a 403 with the scope that was missing', async () => {
    const res = await app.inject({ method: 'POST', url: '/studies/1/reanalyze', headers: auth(reader) });
    expect(res.statusCode).toBe(403);
    const last = (await events('api.access-denied')).at(-1)!;
    expect(last).toMatchObject({
      actor: `api-key:${prefixOf(reader)}`,
      subjectId: 'POST /studies/:id/reanalyze',
    });
    expect(last.details).toMatchObject({ status: 403, reason: 'scope', neededScope: 'admin' });
  });

  it('does not audit public routes, unknown routes or allowed requests', async () => {
    const before = (await events('api.access-denied')).length;
    expect((await get('/healthz', null)).statusCode).toBe(200);
    expect((await get('/nowhere', null)).statusCode).toBe(404);
    expect((await get('/studies', reader)).statusCode).toBe(200);
    expect((await events('api.access-denied')).length).toBe(before);
  });
});

describe('GET /audit', () => {
  const audit = async (query: string, key = admin) => {
    const res = await get(`/audit${query}`, key);
    expect({ query, status: res.statusCode, body: res.statusCode === 200 ? null : res.json() }).toEqual({
      query,
      status: 200,
      body: null,
    });
    return res.json() as { items: AuditItem[]; nextCursor: string | null; hasMore: boolean };
  };

  it('needs an admin key: a read key gets 403, no key 401', async () => {
    const res = await get('/audit', reader);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({
      code: 'FORBIDDEN',
      message: 'this route needs an API key with scope admin',
    });
    expect((await get('/audit', null)).statusCode).toBe(401);
    const last = (await events('api.access-denied')).at(-1)!;
    expect(last.details).toMatchObject({ route: '/audit', status: 401 });
  });

  it('records received instances by calling AE, and re-analysis requests', async () => {
    const uid = '1.2.826.0.1.3680043.10.543.77';
    const instance = {
      studyInstanceUid: uid,
      seriesInstanceUid: `${uid}.1`,
      sopInstanceUid: `${uid}.1.1`,
      sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      path: '/nowhere/77.dcm',
      sizeBytes: 1000,
      sha256: 'cd'.repeat(32),
      callingAeTitle: 'MODALITY1',
      patientId: 'PAT-7777',
      patientName: 'Roe^Richard',
    };
    const stored = await recordInstance(t.db, instance);
    await recordInstance(t.db, instance); // a re-send is not a second reception
    const body = await audit('?action=instance.received');
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).toMatchObject({
      actor: 'dicom:MODALITY1',
      subjectType: 'instance',
      subjectId: String(stored.instanceId),
      details: {
        studyId: stored.studyId,
        studyInstanceUid: uid,
        sopInstanceUid: `${uid}.1.1`,
        sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
        callingAeTitle: 'MODALITY1',
      },
    });
    expect(JSON.stringify(body)).not.toMatch(/PAT-7777|Roe\^Richard/);
    expect(Math.abs(Date.parse(body.items[0].at) - Date.now())).toBeLessThan(60_000);

    const re = await app.inject({
      method: 'POST',
      url: `/studies/${stored.studyId}/reanalyze`,
      headers: auth(admin),
    });
    expect(re.statusCode).toBe(202);
    const reanalyze = await audit('?action=study.reanalyze');
    expect(reanalyze.items).toEqual([
      expect.objectContaining({
        actor: `api-key:${prefixOf(admin)}`,
        subjectType: 'study',
        subjectId: String(stored.studyId),
      }),
    ]);
  });

  it('answers newest first and filters by action, action family, actor and time', async () => {
    // Three known events on known days.
    const seed = [
      { at: '2023-05-01T10:00:00Z', actor: 'cli:alice', action: 'apikey.create', subjectId: 'seed0001' },
      { at: '2023-05-02T10:00:00Z', actor: 'cli:bob', action: 'apikey.revoke', subjectId: 'seed0001' },
      { at: '2023-05-03T10:00:00Z', actor: 'cli:alice', action: 'apikey.revoke', subjectId: 'seed0002' },
    ];
    for (const s of seed)
      await t.db.auditEvent.create({ data: { ...s, at: new Date(s.at), subjectType: 'api-key' } });

    const all = await audit('?limit=500');
    const ids = all.items.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(all.items.length).toBeGreaterThan(10);

    const window = await audit('?since=2023-05-01T00:00:00Z&until=2023-05-03T00:00:00Z');
    expect(window.items.map((e) => e.subjectId + e.action)).toEqual([
      'seed0001apikey.revoke',
      'seed0001apikey.create',
    ]);
    const alice = await audit('?actor=cli:alice&until=2024-01-01T00:00:00Z');
    expect(alice.items.map((e) => e.at)).toEqual(['2023-05-03T10:00:00.000Z', '2023-05-01T10:00:00.000Z']);
    const revokes = await audit('?action=apikey.revoke&actor=cli:bob');
    expect(revokes.items).toHaveLength(1);
    expect(revokes.items[0]).toMatchObject({ at: '2023-05-02T10:00:00.000Z', details: null });
    const family = await audit('?action=apikey.*&until=2024-01-01T00:00:00Z');
    expect(family.items).toHaveLength(3);
    expect((await audit('?action=apikey.*')).items.every((e) => e.action.startsWith('apikey.'))).toBe(true);
    expect((await audit('?action=nothing.like.this')).items).toEqual([]);

    for (const bad of [
      '?since=yesterday',
      '?limit=0',
      '?limit=501',
      '?since=2024-01-02T00:00:00Z&until=2024-01-01T00:00:00Z',
    ]) {
      const res = await get(`/audit${bad}`, admin);
      expect({ bad, status: res.statusCode }).toEqual({ bad, status: 400 });
    }
  });

  it('pages with an opaque cursor: pages together hold every event once, in order', async () => {
    const filter = 'action=api.access-denied';
    const total = (await audit(`?${filter}&limit=500`)).items;
    expect(total.length).toBeGreaterThanOrEqual(5);
    const seen: AuditItem[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof audit>> = await audit(
        `?${filter}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.items.length).toBeLessThanOrEqual(2);
      expect(page.hasMore).toBe(page.nextCursor !== null);
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    expect(seen.map((e) => e.id)).toEqual(total.map((e) => e.id));

    const feedCursor = Buffer.from('f1:10').toString('base64url'); // a /findings cursor is not one
    for (const bad of [feedCursor, 'nonsense', '!!']) {
      const res = await get(`/audit?cursor=${bad}`, admin);
      expect({ bad, status: res.statusCode }).toEqual({ bad, status: 400 });
      expect(res.json().message).toMatch(/^(cursor: not a cursor this API issued|querystring)/);
    }
  });

  it('audits its own use (PS3.15 Audit Log Used), and a page never holds its own read', async () => {
    const before = (await events('audit.read')).length;
    const body = await audit('?action=audit.read&limit=500');
    expect(body.items).toHaveLength(before);
    const reads = await events('audit.read');
    expect(reads).toHaveLength(before + 1);
    expect(reads.at(-1)).toMatchObject({ actor: `api-key:${prefixOf(admin)}`, subjectType: 'audit-trail' });
    expect(reads.at(-1)!.details).toMatchObject({ filters: { action: 'audit.read' }, returned: before });
  });

  it('is in the OpenAPI document, admin-only, with its filters', async () => {
    const doc = (await get('/openapi.json', null)).json();
    const op = doc.paths['/audit'].get;
    expect(op.tags).toEqual(['audit']);
    expect(op.parameters.map((p: { name: string }) => p.name).sort()).toEqual(
      ['action', 'actor', 'cursor', 'limit', 'since', 'until'].sort(),
    );
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '401', '403']));
  });
});
