import { ALGORITHM } from '@lumbar/core';
import { ensureAnalysis } from '@lumbar/db';
import type { Queues } from '@lumbar/jobs';
import { PATIENT_NAME, PATIENT_ID, useApiTest } from '../../helpers/api';

const suite = useApiTest();
const { t, studies, get } = suite;
let queues: Queues;
beforeAll(() => {
  ({ queues } = suite);
});

// GET /dashboard and GET /dashboard/summary.
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
