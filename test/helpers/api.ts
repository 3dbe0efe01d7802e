import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ALGORITHM, type Config, type Logger } from '@lumbar/core';
import {
  createApiKey,
  ensureAnalysis,
  markExportResult,
  recordInstance,
  saveAnalysisResult,
  type FindingInput,
  type PrismaClient,
} from '@lumbar/db';
import { openQueues, redisConnection, type Queues } from '@lumbar/jobs';
import { buildApi } from '@lumbar/api';
import { useTestDatabase } from './db';
import { makeTmpDir, removeDir } from './files';
import { capturingLogger } from './log';
import { testConfig } from './services';
import { mrInstance } from './seed';

export const PATIENT_NAME = 'Doe^Jane';
export const PATIENT_ID = 'PAT-0001';
export const DESTINATIONS = ['PACS@127.0.0.1:104', 'ARCHIVE@127.0.0.1:105'];
export const DICM = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from('seg bytes')]);
export const SR = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from('sr bytes')]);
export const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
export const BAD_KEY = 'lk_zzzzzzzz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export const auth = (key: string) => ({ authorization: `Bearer ${key}` });

export const level = (lvl: string, diagnosis: string): FindingInput => ({
  level: lvl,
  diagnosis,
  probabilities: { healthy: 0.1, bulge: 0.1, central: 0.1, left: 0.1, right: 0.1, [diagnosis]: 0.6 },
  reason: null,
});

/**
 * The API of one test file (test/integration/api/*.test.ts), built in beforeAll on a database of its own:
 * an admin and a read key, three studies (a and b analysed, a with two exports; c only received; a and b
 * first received on 2024-03-01, c on 2024-03-05), queues of its own and a logger that keeps every line.
 * Fields set in beforeAll are read through this object (`api.app`, `api.admin`...). After the file, nothing
 * logged may hold a patient's name or id, nor an API key.
 */
type Seeded = { id: number; uid: string };

/** What useApiTest gives a test file. */
export interface ApiTest {
  t: { url: string; name: string; db: PrismaClient };
  studies: Record<'a' | 'b' | 'c', Seeded>;
  config: Config;
  redis: ReturnType<typeof redisConnection>;
  queues: Queues;
  app: FastifyInstance;
  outRoot: string;
  /** Everything the API of this file logged so far. */
  logText: string;
  admin: string;
  reader: string;
  capturingLogger(): Logger;
  get(url: string, key?: string | null): Promise<LightMyRequestResponse>;
  post(url: string, key?: string | null): Promise<LightMyRequestResponse>;
  seedStudy(n: number): Promise<Seeded>;
  seedResult(
    studyId: number,
    levels: FindingInput[],
    opts?: { version?: string; destinations?: string[]; withFiles?: boolean },
  ): Promise<{ analysisId: number; summary: string }>;
  failOneExportSendOther(): Promise<{ failed: number; succeeded: number }>;
}

export function useApiTest(): ApiTest {
  const t = useTestDatabase();
  const studies: Record<'a' | 'b' | 'c', { id: number; uid: string }> = {} as never;
  const api: ApiTest = {
    t,
    studies,
    config: null! as Config,
    redis: null! as ReturnType<typeof redisConnection>,
    queues: null! as Queues,
    app: null! as FastifyInstance,
    outRoot: '',
    logText: '',
    admin: '',
    reader: '',
    /** A logger that keeps every line, so that the test can check what was logged. */
    capturingLogger: (): Logger => capturingLogger((text) => (api.logText += text)),
    get: (url: string, key: string | null = api.reader) =>
      api.app.inject({ method: 'GET', url, headers: key ? auth(key) : {} }),
    post: (url: string, key: string | null = api.admin) =>
      api.app.inject({ method: 'POST', url, headers: key ? auth(key) : {} }),
    async seedStudy(n: number): Promise<{ id: number; uid: string }> {
      const uid = `1.2.826.0.1.3680043.10.543.${n}`;
      const r = await recordInstance(
        t.db,
        mrInstance(uid, {
          path: `/nowhere/${n}.dcm`,
          patientId: PATIENT_ID,
          patientName: PATIENT_NAME,
          accessionNumber: `ACC${n}`,
        }),
      );
      return { id: r.studyId, uid };
    },
    /** Stores a finished analysis the way the worker does, with its files in a folder of its own. */
    async seedResult(
      studyId: number,
      levels: FindingInput[],
      opts: { version?: string; destinations?: string[]; withFiles?: boolean } = {},
    ) {
      const analysis = await ensureAnalysis(t.db, studyId, {
        name: ALGORITHM.name,
        version: opts.version ?? ALGORITHM.version,
      });
      const outputDir = path.join(api.outRoot, String(studyId), String(analysis.id));
      mkdirSync(path.join(outputDir, 'key-images'), { recursive: true });
      if (opts.withFiles !== false) {
        writeFileSync(path.join(outputDir, 'seg-sagittal.dcm'), DICM);
        writeFileSync(path.join(outputDir, 'sr.dcm'), SR);
        writeFileSync(path.join(outputDir, 'key-images', '1.png'), PNG);
      }
      const summary = levels.map((l) => `${l.level} ${l.diagnosis}`).join('; ');
      const uid = (s: string) => `2.25.${studyId}.${analysis.id}.${s}`;
      const outputs = [
        {
          kind: 'seg',
          view: 'sagittal',
          file: 'seg-sagittal.dcm',
          sopClassUid: '1.2.840.10008.5.1.4.1.1.66.4',
        },
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
    },
    /**
     * The exports of study a, as a PACS leaves them: the first (DESTINATIONS[0]) failed after 4 attempts
     * (A700), the second sent. Their ids.
     */
    async failOneExportSendOther(): Promise<{ failed: number; succeeded: number }> {
      const rows = await t.db.export.findMany({ orderBy: { id: 'asc' } });
      expect(rows.map((r) => r.destination)).toEqual(DESTINATIONS);
      const [failed, succeeded] = rows.map((r) => r.id);
      await markExportResult(t.db, failed, {
        ok: false,
        final: true,
        status: 0xa700,
        error: 'out of resources',
      });
      await t.db.export.update({ where: { id: failed }, data: { attempts: 4 } });
      await markExportResult(t.db, succeeded, { ok: true, final: true, status: 0 });
      return { failed, succeeded };
    },
  };

  beforeAll(async () => {
    api.config = testConfig(t.url, { LUMBAR_EXPORT_ATTEMPTS: '4', LUMBAR_EXPORT_BACKOFF_MS: '1000' });
    api.outRoot = makeTmpDir('api-out');
    api.redis = redisConnection(api.config.redisUrl, 'producer');
    api.queues = openQueues(api.redis, api.config.queuePrefix);
    api.admin = (await createApiKey(t.db, ['admin'], 'test admin')).key;
    api.reader = (await createApiKey(t.db, ['read'], 'test reader')).key;
    studies.a = await api.seedStudy(1);
    studies.b = await api.seedStudy(2);
    studies.c = await api.seedStudy(3);
    await api.seedResult(studies.a.id, [level('L4-L5', 'left'), level('L5-S1', 'healthy')], {
      destinations: DESTINATIONS,
    });
    await api.seedResult(studies.b.id, [level('L4-L5', 'bulge'), level('L5-S1', 'central')]);
    // Received on known days: a and b on 2024-03-01, c on 2024-03-05.
    await t.db.study.updateMany({
      where: { id: { in: [studies.a.id, studies.b.id] } },
      data: { firstReceivedAt: new Date('2024-03-01T10:00:00Z') },
    });
    await t.db.study.update({
      where: { id: studies.c.id },
      data: { firstReceivedAt: new Date('2024-03-05T10:00:00Z') },
    });
    api.app = await buildApi({
      config: api.config,
      db: t.db,
      queues: api.queues,
      redis: api.redis,
      log: api.capturingLogger(),
    });
  });

  afterAll(async () => {
    await api.app?.close();
    await api.queues?.studies.obliterate({ force: true }).catch(() => undefined);
    await api.queues?.exports.obliterate({ force: true }).catch(() => undefined);
    await api.queues?.close();
    api.redis?.disconnect();
    if (api.outRoot) removeDir(api.outRoot);
    // Whatever the file asked, nothing logged holds a patient's identity or a key.
    for (const secret of [PATIENT_NAME, PATIENT_ID, api.admin, api.reader].filter(Boolean))
      expect(api.logText).not.toContain(secret);
  });

  return api;
}
