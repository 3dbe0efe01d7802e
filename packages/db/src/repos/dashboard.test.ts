import { useTestDatabase } from '../../../../test/helpers/db';
import { seedAnalysisResult, seedStudy } from '../../../../test/helpers/seed';
import { markAnalysisFailed, ensureAnalysis } from './analyses';
import {
  dashboardActivity,
  exportLatencySince,
  hourlyActivity,
  latestStudiesWithResults,
  stageTimingsSince,
} from './dashboard';
import { markExportResult } from './exports';

const t = useTestDatabase();

describe('dashboard repository', () => {
  const since = new Date(Date.now() - 3600_000);
  let a: number, b: number, exportIds: number[], analysisId: number;

  it('is empty on an empty database', async () => {
    expect(await dashboardActivity(t.db, since, 20)).toEqual({
      lastInstanceAt: null,
      instancesReceived: 0,
      analysesByStatus: [],
      exportsByStatus: [],
      failedAnalyses: [],
      failedExports: [],
    });
    expect(await hourlyActivity(t.db, since)).toEqual({ received: [], analysed: [], exported: [] });
    expect(await exportLatencySince(t.db, since)).toEqual({ n: 0n, p50: null, p95: null });
    expect(await stageTimingsSince(t.db, since)).toEqual([]);
    expect(await latestStudiesWithResults(t.db, 10)).toEqual([]);
  });

  it('tells the activity since a time: counts by status and the latest failures', async () => {
    a = await seedStudy(t.db, '1.3.1', { instances: 2 });
    b = await seedStudy(t.db, '1.3.2');
    ({ analysisId, exportIds } = await seedAnalysisResult(t.db, a, {
      destinations: ['A@h:1', 'B@h:2'],
      document: { timingsMs: { seg: 100, cls: 20, bad: 'x' }, keyImages: [{ file: 'key-images/1.png' }] },
    }));
    const failed = await ensureAnalysis(t.db, b, { name: 'lumbar-test', version: '1.0.0' });
    await markAnalysisFailed(t.db, failed.id, b, 'boom');
    await markExportResult(t.db, exportIds[0], { ok: true, final: true, status: 0 });
    await markExportResult(t.db, exportIds[1], { ok: false, final: true, status: 0xa700, error: 'full' });
    const r = await dashboardActivity(t.db, since, 20);
    expect(r.lastInstanceAt).toBeInstanceOf(Date);
    expect(r.instancesReceived).toBe(3);
    const byStatus = (rows: { status: string; _count: { _all: number } }[]) =>
      Object.fromEntries(rows.map((x) => [x.status, x._count._all]));
    expect(byStatus(r.analysesByStatus)).toEqual({ succeeded: 1, failed: 1 });
    expect(byStatus(r.exportsByStatus)).toEqual({ succeeded: 1, failed: 1 });
    expect(r.failedAnalyses).toEqual([
      expect.objectContaining({
        id: failed.id,
        studyId: b,
        lastError: 'boom',
        study: { studyInstanceUid: '1.3.2' },
      }),
    ]);
    expect(r.failedExports).toEqual([
      expect.objectContaining({
        id: exportIds[1],
        destination: 'B@h:2',
        lastError: 'full',
        analysis: { studyId: a, study: { studyInstanceUid: '1.3.1' } },
      }),
    ]);
    expect((await dashboardActivity(t.db, new Date(Date.now() + 60_000), 0)).instancesReceived).toBe(0);
  });

  it('counts per hour, the latency of sent exports and the stage timings', async () => {
    const h = await hourlyActivity(t.db, since);
    const total = (rows: { n: bigint }[]) => rows.reduce((s, x) => s + Number(x.n), 0);
    expect([total(h.received), total(h.analysed), total(h.exported)]).toEqual([2, 1, 1]);
    expect(h.received[0].hour.getUTCMinutes()).toBe(0);
    const lat = await exportLatencySince(t.db, since);
    expect(lat!.n).toBe(1n);
    expect(Number(lat!.p50)).toBeGreaterThanOrEqual(0);
    const stages = await stageTimingsSince(t.db, since);
    expect(stages.map((s) => [s.stage, Number(s.n), Number(s.p50), Number(s.p95)])).toEqual([
      ['cls', 1, 20, 20],
      ['seg', 1, 100, 100],
    ]);
  });

  it('gives the latest studies with their newest analysis that has results', async () => {
    const latest = await latestStudiesWithResults(t.db, 10);
    expect(latest.map((s) => s.id)).toEqual([b, a]);
    expect(latest[0].analyses).toEqual([]); // failed: no results
    expect(latest[1].analyses).toHaveLength(1);
    expect(latest[1].analyses[0]).toMatchObject({
      summary: 'summary 1.0.0',
      findings: [{ level: 'L4-L5', diagnosis: 'normal', reason: null }],
      exports: [
        { id: exportIds[0], destination: 'A@h:1', status: 'succeeded' },
        { id: exportIds[1], destination: 'B@h:2', status: 'failed', lastError: 'full' },
      ],
    });
    expect((await latestStudiesWithResults(t.db, 1)).map((s) => s.id)).toEqual([b]);
    expect(analysisId).toBeGreaterThan(0);
  });
});
