import { useTestDatabase } from '../../../../test/helpers/db';
import { seedAnalysisResult, seedStudy } from '../../../../test/helpers/seed';
import { listFindingsAfter } from './findings';

const t = useTestDatabase();

describe('findings repository', () => {
  it('lists findings after an id, in id order, at most take, with their analysis and study', async () => {
    const s = await seedStudy(t.db, '1.4.1', { accessionNumber: 'ACC4' });
    const { analysisId } = await seedAnalysisResult(t.db, s, { levels: ['L1-L2', 'L2-L3', 'L3-L4'] });
    const all = await listFindingsAfter(t.db, 0, 10);
    expect(all.map((f) => f.level)).toEqual(['L1-L2', 'L2-L3', 'L3-L4']);
    expect(all[0]).toMatchObject({
      analysisId,
      analysis: {
        studyId: s,
        algorithmName: 'lumbar-test',
        algorithmVersion: '1.0.0',
        study: { studyInstanceUid: '1.4.1', accessionNumber: 'ACC4' },
      },
    });
    expect((await listFindingsAfter(t.db, all[0].id, 1)).map((f) => f.id)).toEqual([all[1].id]);
    expect(await listFindingsAfter(t.db, all[2].id, 10)).toEqual([]);
  });
});
