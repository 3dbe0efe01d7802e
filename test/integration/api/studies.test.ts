import { ALGORITHM } from '@lumbar/core';
import type { Queues } from '@lumbar/jobs';
import { PATIENT_NAME, PATIENT_ID, useApiTest } from '../../helpers/api';

const suite = useApiTest();
const { t, studies, get, post } = suite;
let admin: string;
let queues: Queues;
beforeAll(() => {
  ({ admin, queues } = suite);
});

// GET /studies, GET /studies/:id, GET /studies/:id/findings and POST /studies/:id/reanalyze.
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
