import { useTestDatabase } from '../../../../test/helpers/db';
import { seedAnalysisResult, seedStudy } from '../../../../test/helpers/seed';
import {
  countExportsByStatus,
  findExport,
  findExportsOwed,
  getExportWithStudy,
  listExportsPage,
  listPendingExports,
  markExportAttempt,
  markExportResult,
  markLostSendsPending,
} from './exports';

const t = useTestDatabase();

describe('exports repository', () => {
  let studyId: number, analysisId: number, ids: number[];
  beforeAll(async () => {
    studyId = await seedStudy(t.db, '1.6.1');
    ({ analysisId, exportIds: ids } = await seedAnalysisResult(t.db, studyId, {
      destinations: ['A@h:1', 'B@h:2', 'C@h:3'],
    }));
  });

  it('finds one export, with or without its study', async () => {
    expect(await findExport(t.db, ids[0])).toMatchObject({
      id: ids[0],
      destination: 'A@h:1',
      status: 'pending',
    });
    expect(await findExport(t.db, 999_999)).toBeNull();
    expect(await getExportWithStudy(t.db, ids[1])).toMatchObject({
      id: ids[1],
      analysis: { studyId, study: { studyInstanceUid: '1.6.1' } },
    });
    await expect(getExportWithStudy(t.db, 999_999)).rejects.toThrow();
  });

  it('lists a page newest first with the total, filtered by status', async () => {
    const page = await listExportsPage(t.db, {}, { limit: 2, offset: 0 });
    expect(page.total).toBe(3);
    expect(page.rows.map((e) => e.id)).toEqual([ids[2], ids[1]]);
    expect(page.rows[0].analysis).toEqual({ studyId, study: { studyInstanceUid: '1.6.1' } });
    expect((await listExportsPage(t.db, {}, { limit: 2, offset: 2 })).rows.map((e) => e.id)).toEqual([
      ids[0],
    ]);
    await markExportResult(t.db, ids[0], { ok: false, final: true, error: 'refused' });
    expect(await listExportsPage(t.db, { status: 'failed' }, { limit: 10, offset: 0 })).toMatchObject({
      rows: [{ id: ids[0] }],
      total: 1,
    });
  });

  it('counts exports by status and lists the pending ones of an analysis', async () => {
    const rows = await countExportsByStatus(t.db);
    expect(Object.fromEntries(rows.map((r) => [r.status, r._count._all]))).toEqual({ failed: 1, pending: 2 });
    const pending = await listPendingExports(t.db, analysisId);
    expect(pending.map((e) => e.id).sort()).toEqual([ids[1], ids[2]].sort());
    expect(Object.keys(pending[0]).sort()).toEqual(['id', 'updatedAt']);
    expect(await listPendingExports(t.db, 999_999)).toEqual([]);
  });

  it('finds exports owed (stale pending, stale sending) and puts lost sends back to pending', async () => {
    await markExportAttempt(t.db, ids[2]); // sending
    const future = new Date(Date.now() + 60_000);
    const past = new Date(Date.now() - 3600_000);
    expect(await findExportsOwed(t.db, { pendingBefore: past, sendingBefore: past })).toEqual([]);
    expect(await findExportsOwed(t.db, { pendingBefore: future, sendingBefore: past })).toEqual([
      { id: ids[1], analysisId },
    ]);
    const owed = await findExportsOwed(t.db, { pendingBefore: future, sendingBefore: future });
    expect(owed.map((e) => e.id).sort()).toEqual([ids[1], ids[2]].sort());
    await markLostSendsPending(t.db, [ids[0], ...owed.map((e) => e.id)]);
    expect((await findExport(t.db, ids[0]))!.status).toBe('failed'); // only sending ones move
    expect((await findExport(t.db, ids[2]))!.status).toBe('pending');
  });
});
