import { useTestDatabase } from '../../../../test/helpers/db';
import { seedAnalysisResult, seedStudy } from '../../../../test/helpers/seed';
import {
  countStudiesByStatus,
  findStudiesOwedAnalysis,
  findStudy,
  findStudyForAnalysis,
  findStudyReceiveState,
  findStudySeriesAndAnalyses,
  lastStudyReceivedAt,
  listStudiesPage,
  setStudyStatus,
} from './studies';

const t = useTestDatabase();

describe('studies repository', () => {
  let a: number, b: number, c: number;
  beforeAll(async () => {
    expect(await lastStudyReceivedAt(t.db)).toBeNull();
    a = await seedStudy(t.db, '1.7.1', { series: 2, instances: 3 });
    b = await seedStudy(t.db, '1.7.2');
    c = await seedStudy(t.db, '1.7.3');
  });

  it('finds a study by id, whole or as the analysis and the receive-to-stable metric need it', async () => {
    expect(await findStudy(t.db, a)).toMatchObject({ id: a, studyInstanceUid: '1.7.1', instanceCount: 3 });
    expect(await findStudy(t.db, 999_999)).toBeNull();
    const s = await findStudyForAnalysis(t.db, a);
    expect(Object.keys(s!).sort()).toEqual(['id', 'lastReceivedAt', 'status', 'studyInstanceUid']);
    expect(await findStudyReceiveState(t.db, b)).toEqual({
      status: 'receiving',
      lastReceivedAt: expect.any(Date),
    });
    expect(await findStudyReceiveState(t.db, 999_999)).toBeNull();
  });

  it('lists a page newest first with the total, filtered by status and first-received time', async () => {
    expect(await listStudiesPage(t.db, {}, { limit: 2, offset: 0 })).toMatchObject({
      rows: [{ id: c }, { id: b }],
      total: 3,
    });
    expect((await listStudiesPage(t.db, {}, { limit: 2, offset: 2 })).rows.map((s) => s.id)).toEqual([a]);
    await setStudyStatus(t.db, b, 'queued');
    expect(await listStudiesPage(t.db, { status: 'queued' }, { limit: 10, offset: 0 })).toMatchObject({
      rows: [{ id: b }],
      total: 1,
    });
    const first = (await findStudy(t.db, a))!.firstReceivedAt;
    const later = new Date(first.getTime() + 1);
    expect((await listStudiesPage(t.db, { receivedTo: later }, { limit: 10, offset: 0 })).rows[0].id).toBe(a);
    const from = await listStudiesPage(
      t.db,
      { receivedFrom: new Date(Date.now() + 60_000) },
      { limit: 10, offset: 0 },
    );
    expect(from).toEqual({ rows: [], total: 0 });
    await setStudyStatus(t.db, b, 'receiving');
  });

  it('gives the series by number with instance counts, and the analyses oldest first', async () => {
    const v1 = await seedAnalysisResult(t.db, a, { version: '1.0.0' });
    const v2 = await seedAnalysisResult(t.db, a, { version: '2.0.0' });
    const { series, analyses } = await findStudySeriesAndAnalyses(t.db, a);
    expect(series.map((s) => [s.seriesNumber, s.seriesInstanceUid, s._count.instances])).toEqual([
      [1, '1.7.1.2', 1],
      [2, '1.7.1.1', 2],
    ]);
    expect(analyses.map((x) => x.id)).toEqual([v1.analysisId, v2.analysisId]);
    expect(await findStudySeriesAndAnalyses(t.db, b)).toMatchObject({ series: [{}], analyses: [] });
  });

  it('counts studies by status and tells the last receive time', async () => {
    const rows = await countStudiesByStatus(t.db);
    expect(Object.fromEntries(rows.map((r) => [r.status, r._count._all]))).toEqual({
      analyzed: 1,
      receiving: 2,
    });
    const last = await lastStudyReceivedAt(t.db);
    expect(last?.getTime()).toBe((await findStudy(t.db, c))!.lastReceivedAt.getTime());
  });

  it('finds studies owed an analysis: quiet receiving, stale queued, analysing with a lost run', async () => {
    const future = new Date(Date.now() + 60_000);
    const past = new Date(Date.now() - 3600_000);
    // Nothing is quiet yet (all received after `past`).
    expect(await findStudiesOwedAnalysis(t.db, { quietBefore: past, lostBefore: past })).toEqual([]);
    const owed = await findStudiesOwedAnalysis(t.db, { quietBefore: future, lostBefore: past });
    expect(owed.map((s) => s.id).sort()).toEqual([b, c].sort());
    await setStudyStatus(t.db, b, 'queued');
    await setStudyStatus(t.db, c, 'analyzing');
    await t.db.analysis.create({
      data: { studyId: c, algorithmName: 'x', algorithmVersion: '1', status: 'running', startedAt: past },
    });
    const lost = await findStudiesOwedAnalysis(t.db, { quietBefore: future, lostBefore: new Date() });
    expect(lost.map((s) => s.id).sort()).toEqual([b, c].sort());
    expect(await findStudiesOwedAnalysis(t.db, { quietBefore: future, lostBefore: past })).toEqual([
      { id: b },
    ]);
  });
});
