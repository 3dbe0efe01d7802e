// GET /studies/:id/findings and the FHIR DiagnosticReport with the sagittal grader's gradings, against a
// real database: the response schema must keep `gradings` (not strip it), and an analysis stored before
// the grader existed must still answer.
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { ALGORITHM, type Config } from '@lumbar/core';
import { createApiKey, ensureAnalysis, recordInstance, saveAnalysisResult } from '@lumbar/db';
import { openQueues, redisConnection, type Queues } from '@lumbar/jobs';
import { buildApi } from '../app';
import { useTestDatabase } from '../../../../test/helpers/db';
import { makeTmpDir, removeDir } from '../../../../test/helpers/files';
import { testConfig } from '../../../../test/helpers/services';
import { mrInstance } from '../../../../test/helpers/seed';

const t = useTestDatabase();
let config: Config;
let redis: ReturnType<typeof redisConnection>;
let queues: Queues;
let app: FastifyInstance;
let outRoot: string;
let key: string;
const uids = { graded: '2.25.4401', old: '2.25.4402' };
const ids: Record<keyof typeof uids, number> = { graded: 0, old: 0 };

const grading = (level: string, grade: number) => ({
  level,
  model: { name: 'sag-grading', version: '1.0.0' },
  sopInstanceUid: '2.25.4401.1.1',
  fromBottom: level === 'L5-S1' ? 1 : 2,
  herniation: 0.8,
  bulging: 0.1,
  narrowing: 0.4,
  modic: 0.3,
  endplate: 0.2,
  spondylolisthesis: 0.05,
  pfirrmann: { grade, distribution: [0.1, 0.1, 0.1, 0.1, 0.6] },
  flags: { herniation: true, bulging: false, narrowing: false },
});

async function seed(uid: string, document: Record<string, unknown>): Promise<number> {
  const r = await recordInstance(
    t.db,
    mrInstance(uid, { patientId: 'P1', patientName: 'Doe^Jane', accessionNumber: null }),
  );
  const analysis = await ensureAnalysis(t.db, r.studyId, {
    name: ALGORITHM.name,
    version: ALGORITHM.version,
  });
  const levels = [
    {
      level: 'L4-L5',
      diagnosis: 'left',
      probabilities: { healthy: 0.1, bulge: 0.1, central: 0.1, left: 0.6, right: 0.1 },
      reason: null,
    },
  ];
  await saveAnalysisResult(
    t.db,
    {
      analysisId: analysis.id,
      studyId: r.studyId,
      summary: 'L4-L5 left',
      document: { summary: 'L4-L5 left', levels, ...document },
      outputDir: outRoot,
    },
    levels,
    [],
    [],
  );
  return r.studyId;
}

beforeAll(async () => {
  config = testConfig(t.url);
  outRoot = makeTmpDir('api-gradings');
  redis = redisConnection(config.redisUrl, 'producer');
  queues = openQueues(redis, config.queuePrefix);
  key = (await createApiKey(t.db, ['read'], 'test reader')).key;
  ids.graded = await seed(uids.graded, { gradings: [grading('L5-S1', 5), grading('L4-L5', 3)] });
  ids.old = await seed(uids.old, {});
  app = await buildApi({ config, db: t.db, queues, redis, log: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await app?.close();
  await queues?.close();
  redis?.disconnect();
  if (outRoot) removeDir(outRoot);
});

const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });

describe('gradings in the API', () => {
  it('GET /studies/:id/findings answers the gradings top down; none for an analysis from before them', async () => {
    const res = await get(`/studies/${ids.graded}/findings`);
    expect(res.statusCode).toBe(200);
    const { gradings } = res.json();
    expect(gradings).toEqual([
      {
        level: 'L4-L5',
        model: { name: 'sag-grading', version: '1.0.0' },
        sopInstanceUid: '2.25.4401.1.1',
        fromBottom: 2,
        herniation: 0.8,
        bulging: 0.1,
        narrowing: 0.4,
        modic: 0.3,
        endplate: 0.2,
        spondylolisthesis: 0.05,
        pfirrmann: { grade: 3, distribution: [0.1, 0.1, 0.1, 0.1, 0.6] },
        flags: { herniation: true, bulging: false, narrowing: false },
      },
      expect.objectContaining({ level: 'L5-S1', pfirrmann: expect.objectContaining({ grade: 5 }) }),
    ]);
    const old = await get(`/studies/${ids.old}/findings`);
    expect(old.statusCode).toBe(200);
    expect(old.json().gradings).toEqual([]);
    expect(old.json().levels).toHaveLength(1);
  });

  it('FHIR: a grading Observation per disc beside the level Observation, and none for older analyses', async () => {
    const [graded] = (await get(`/fhir/DiagnosticReport?study=${uids.graded}`)).json().entry;
    const report = graded.resource;
    expect(report.result.map((r: { reference: string }) => r.reference)).toEqual([
      '#level-L4-L5',
      '#grading-L4-L5',
      '#grading-L5-S1',
    ]);
    const obs = report.contained.find((r: { id: string }) => r.id === 'grading-L5-S1');
    expect(obs.device).toEqual({ reference: '#model-sag-grading-1.0.0' });
    expect(obs.component[0]).toMatchObject({
      code: { coding: [{ system: 'http://snomed.info/sct', code: '77547008' }] },
      valueQuantity: { value: 5, system: 'http://unitsofmeasure.org', code: '{grade}' },
    });
    const read = await get(`/fhir/DiagnosticReport/${report.id}`);
    expect(read.json()).toEqual(report);

    const [old] = (await get(`/fhir/DiagnosticReport?study=${uids.old}`)).json().entry;
    expect(old.resource.contained.map((r: { id: string }) => r.id)).toEqual(['algorithm', 'level-L4-L5']);
  });
});
