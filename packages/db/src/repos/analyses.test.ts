import { useTestDatabase } from '../../../../test/helpers/db';
import { seedAnalysisResult, seedStudy } from '../../../../test/helpers/seed';
import {
  ensureAnalysis,
  findResultAnalysis,
  listAnalysesWithResults,
  markAnalysisRunning,
  releaseAnalysis,
} from './analyses';
import { findStudy } from './studies';

const t = useTestDatabase();

describe('analyses repository', () => {
  let a: number, b: number;
  beforeAll(async () => {
    a = await seedStudy(t.db, '1.5.1', { accessionNumber: 'ACC1' });
    b = await seedStudy(t.db, '1.5.2');
  });

  it('releases a running analysis and its study back to queued, keeping why', async () => {
    const an = await ensureAnalysis(t.db, b, { name: 'lumbar-test', version: '9' });
    await markAnalysisRunning(t.db, an.id, b);
    await releaseAnalysis(t.db, an.id, b, 'x'.repeat(5000));
    const after = await t.db.analysis.findUniqueOrThrow({ where: { id: an.id } });
    expect(after).toMatchObject({ status: 'queued', startedAt: null, attempts: 1 });
    expect(after.lastError).toHaveLength(4000);
    expect((await findStudy(t.db, b))!.status).toBe('queued');
  });

  it('finds the newest analysis with results, its findings by id and outputs by file', async () => {
    expect(await findResultAnalysis(t.db, a)).toBeNull();
    const v1 = await seedAnalysisResult(t.db, a, { version: '1.0.0', levels: ['L5-S1', 'L1-L2'] });
    const v2 = await ensureAnalysis(t.db, a, { name: 'lumbar-test', version: '2.0.0' }); // no results yet
    const r = await findResultAnalysis(t.db, a);
    expect(r!.id).toBe(v1.analysisId);
    expect(r!.id).not.toBe(v2.id);
    expect(r!.findings.map((f) => f.level)).toEqual(['L5-S1', 'L1-L2']);
    expect(r!.outputs.map((o) => o.file)).toEqual(['sr.dcm']);
  });

  it('lists analyses with results by study UID or analysis id, oldest first, with the study named', async () => {
    const v3 = await seedAnalysisResult(t.db, a, { version: '3.0.0' });
    const all = await listAnalysesWithResults(t.db, { studyInstanceUid: '1.5.1' });
    expect(all.map((x) => x.algorithmVersion)).toEqual(['1.0.0', '3.0.0']);
    expect(all[0].study).toEqual({
      studyInstanceUid: '1.5.1',
      accessionNumber: 'ACC1',
      studyDate: '20240102',
    });
    expect(all[0].findings.map((f) => f.level)).toEqual(['L5-S1', 'L1-L2']);
    expect((await listAnalysesWithResults(t.db, { analysisId: v3.analysisId })).map((x) => x.id)).toEqual([
      v3.analysisId,
    ]);
    expect(await listAnalysesWithResults(t.db, { studyInstanceUid: '1.5.2' })).toEqual([]);
    expect(await listAnalysesWithResults(t.db, { studyInstanceUid: '9.9' })).toEqual([]);
  });
});
