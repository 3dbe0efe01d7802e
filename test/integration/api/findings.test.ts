import { level, useApiTest } from '../../helpers/api';

const suite = useApiTest();
const { t, studies, get, seedStudy, seedResult } = suite;

// GET /findings: the RIS polling feed.
describe('the findings feed (RIS polling)', () => {
  type Item = { cursor: string; studyId: number; analysisId: number; level: string; diagnosis: string };

  /** Polls from `since` with pages of `limit` until the feed is drained. */
  async function drain(since: string | undefined, limit = 2) {
    const items: Item[] = [];
    let cursor = since;
    for (let page = 0; page < 100; page++) {
      const q = new URLSearchParams({ limit: String(limit), ...(cursor ? { since: cursor } : {}) });
      const res = await get(`/findings?${q}`);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.items.length).toBeLessThanOrEqual(limit);
      items.push(...body.items);
      cursor = body.nextCursor;
      if (!body.hasMore) return { items, cursor: cursor! };
    }
    throw new Error('the feed did not end');
  }

  const inDbOrder = async () =>
    (await t.db.finding.findMany({ orderBy: { id: 'asc' } })).map((f) => `${f.analysisId}/${f.level}`);
  const keys = (items: Item[]) => items.map((i) => `${i.analysisId}/${i.level}`);
  let cursor: string;

  it('returns every finding exactly once, in commit order, in pages of 2', async () => {
    const all = await drain(undefined);
    expect(keys(all.items)).toEqual(await inDbOrder());
    expect(all.items).toHaveLength(4);
    expect(new Set(all.items.map((i) => i.cursor)).size).toBe(4);
    expect(all.items[0]).toMatchObject({ studyId: studies.a.id, level: 'L4-L5', diagnosis: 'left' });
    const again = (await get(`/findings?since=${all.cursor}`)).json();
    expect(again).toMatchObject({ items: [], nextCursor: all.cursor, hasMore: false });
    cursor = all.cursor;
  });

  it('shows findings added after the last page on the next poll, and a re-analysis as new items', async () => {
    const d = await seedStudy(4);
    await seedResult(d.id, [level('L4-L5', 'right'), level('L5-S1', 'bulge')]);
    const next = await drain(cursor);
    expect(next.items.map((i) => [i.studyId, i.level, i.diagnosis])).toEqual([
      [d.id, 'L4-L5', 'right'],
      [d.id, 'L5-S1', 'bulge'],
    ]);
    // Re-analysis of study a: its findings are replaced, the new ones come after the cursor.
    await seedResult(studies.a.id, [level('L4-L5', 'central'), level('L5-S1', 'healthy')]);
    const re = await drain(next.cursor);
    expect(re.items.map((i) => [i.studyId, i.level, i.diagnosis])).toEqual([
      [studies.a.id, 'L4-L5', 'central'],
      [studies.a.id, 'L5-S1', 'healthy'],
    ]);
    expect((await drain(re.cursor)).items).toEqual([]);
    cursor = re.cursor;
  });

  it('never skips nor repeats while analyses are committed concurrently', async () => {
    const more = await Promise.all([5, 6, 7, 8, 9, 10].map(seedStudy));
    const writers = Promise.all(
      more.map((s, i) =>
        seedResult(s.id, [level('L4-L5', i % 2 ? 'left' : 'bulge'), level('L5-S1', 'healthy')]),
      ),
    );
    const seen: Item[] = [];
    let c = cursor;
    let done = false as boolean;
    void writers.then(() => (done = true));
    for (let polls = 0; polls < 10_000 && (!done || seen.length < 12); polls++) {
      const body = (await get(`/findings?since=${c}&limit=3`)).json();
      seen.push(...body.items);
      c = body.nextCursor;
      if (done && !body.hasMore && seen.length >= 12) break;
    }
    await writers;
    expect(seen).toHaveLength(12);
    expect(new Set(keys(seen)).size).toBe(12);
    expect(keys(seen)).toEqual((await inDbOrder()).slice(-12));
  });

  it('refuses a cursor it did not issue', async () => {
    for (const since of ['123', 'abc', Buffer.from('f1:-1').toString('base64url'), 'bad cursor!']) {
      const res = await get(`/findings?since=${encodeURIComponent(since)}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toMatch(/BAD_INPUT|VALIDATION/);
    }
  });
});
