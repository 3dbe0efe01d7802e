import type { Queues } from '@lumbar/jobs';
import { DESTINATIONS, useApiTest } from '../../helpers/api';

const suite = useApiTest();
const { t, studies, get, post } = suite;
let queues: Queues;
beforeAll(() => {
  ({ queues } = suite);
});

// GET /exports and POST /exports/:id/retry.
describe('exports', () => {
  let failed: number;
  let succeeded: number;

  beforeAll(async () => {
    ({ failed, succeeded } = await suite.failOneExportSendOther());
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
