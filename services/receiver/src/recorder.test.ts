import { openSqlRunner, type InstanceRecord } from '@lumbar/db';
import { GroupRecorder } from './recorder';
import { useTestDatabase } from '../../../test/helpers/db';

const t = useTestDatabase();

const rec = (study: string, series: string, sop: string, sha = `sha-${sop}`): InstanceRecord => ({
  studyInstanceUid: study,
  seriesInstanceUid: series,
  sopInstanceUid: sop,
  sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
  transferSyntaxUid: '1.2.840.10008.1.2.1',
  path: `/data/${study}/${series}/${sop}.dcm`,
  sizeBytes: 1000,
  sha256: sha,
  callingAeTitle: 'GROUP',
  patientName: 'Doe^Jane',
  seriesNumber: 3,
});

describe('GroupRecorder (group commit of concurrent instances)', () => {
  let sql: ReturnType<typeof openSqlRunner>;
  beforeAll(() => (sql = openSqlRunner(t.url, 4)));
  afterAll(() => sql.end());

  it('stores N concurrent instances of new and existing studies each exactly once, in shared statements', async () => {
    const recorder = new GroupRecorder(sql, 1); // one statement at a time: the others queue into the next
    const records: InstanceRecord[] = [];
    for (let s = 0; s < 3; s++)
      for (let i = 0; i < 40; i++)
        records.push(rec(`1.8.${s}`, `1.8.${s}.${i % 4}`, `1.8.${s}.${i % 4}.${i}`));
    // the same instances again, at the same time (re-sent on other associations): duplicates
    const again = records.filter((_, i) => i % 5 === 0).map((r) => ({ ...r, sha256: 'other' }));
    const results = await Promise.all([...records, ...again].map((r) => recorder.record(r)));
    expect(recorder.stats.statements).toBeLessThan(records.length); // they did share statements
    expect(recorder.stats.largestBatch).toBeGreaterThan(1);

    const stored = results.filter((r) => r.stored);
    expect(stored).toHaveLength(records.length);
    expect(results.filter((r) => !r.stored)).toHaveLength(again.length);
    // each SOP Instance UID once, with the first content; one audit event per new instance
    const rows = await t.db.instance.findMany({ where: { sopInstanceUid: { startsWith: '1.8.' } } });
    expect(rows).toHaveLength(records.length);
    expect(new Set(rows.map((r) => r.sopInstanceUid)).size).toBe(records.length);
    expect(rows.every((r) => r.sha256 === `sha-${r.sopInstanceUid}`)).toBe(true);
    const events = await t.db.auditEvent.findMany({
      where: { action: 'instance.received', actor: 'dicom:GROUP' },
    });
    expect(events).toHaveLength(records.length);
    expect(new Set(events.map((e) => e.subjectId))).toEqual(new Set(rows.map((r) => String(r.id))));
    for (let s = 0; s < 3; s++) {
      const study = await t.db.study.findUniqueOrThrow({ where: { studyInstanceUid: `1.8.${s}` } });
      expect(study.instanceCount).toBe(40);
      expect(await t.db.series.count({ where: { studyId: study.id } })).toBe(4);
    }
    // a duplicate names the row that was kept
    const dup = results[records.length];
    expect(dup).toMatchObject({
      stored: false,
      sha256: 'sha-1.8.0.0.0',
      path: '/data/1.8.0/1.8.0.0/1.8.0.0.0.dcm',
    });
  });

  it('says whether an analysis has the study (before and after), and counts late instances', async () => {
    const recorder = new GroupRecorder(sql);
    await t.db.study.update({ where: { studyInstanceUid: '1.8.0' }, data: { status: 'analyzing' } });
    await t.db.study.update({ where: { studyInstanceUid: '1.8.1' }, data: { status: 'analyzed' } });
    const [a, b, c] = await Promise.all([
      recorder.record(rec('1.8.0', '1.8.0.0', '1.8.0.0.100')),
      recorder.record(rec('1.8.1', '1.8.1.0', '1.8.1.0.100')),
      recorder.record(rec('1.8.9', '1.8.9.0', '1.8.9.0.1')),
    ]);
    expect(a).toMatchObject({ stored: true, studyStatus: { before: 'analyzing', after: 'analyzing' } });
    expect(b).toMatchObject({ stored: true, studyStatus: { before: 'analyzed', after: 'receiving' } });
    expect(c).toMatchObject({ stored: true, studyStatus: { before: 'receiving', after: 'receiving' } });
    expect((await t.db.study.findUniqueOrThrow({ where: { studyInstanceUid: '1.8.0' } })).instanceCount).toBe(
      41,
    );
  });

  it('one bad row does not fail the others of its batch', async () => {
    const recorder = new GroupRecorder(sql, 1);
    const bad = { ...rec('1.8.5', '1.8.5.0', '1.8.5.0.1'), sizeBytes: 2 ** 40 }; // out of range for int
    const results = await Promise.allSettled([
      recorder.record(rec('1.8.5', '1.8.5.0', '1.8.5.0.0')),
      recorder.record(rec('1.8.5', '1.8.5.0', '1.8.5.0.2')),
      recorder.record(bad),
      recorder.record(rec('1.8.5', '1.8.5.0', '1.8.5.0.3')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const study = await t.db.study.findUniqueOrThrow({ where: { studyInstanceUid: '1.8.5' } });
    expect(study.instanceCount).toBe(3);
  });

  it('fails every waiting caller when the database is unavailable', async () => {
    const down = openSqlRunner('postgresql://postgres@127.0.0.1:1/nowhere', 2);
    try {
      const recorder = new GroupRecorder(down);
      const results = await Promise.allSettled(
        [1, 2, 3].map((i) => recorder.record(rec('1.7', '1.7.1', `1.7.1.${i}`))),
      );
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
    } finally {
      await down.end();
    }
  });
});
