import { recordInstance, type InstanceRecord } from './repos/instances';
import { useTestDatabase } from '../../../test/helpers/db';

const t = useTestDatabase();

const rec = (study: string, series: string, sop: string): InstanceRecord => ({
  studyInstanceUid: study,
  seriesInstanceUid: series,
  sopInstanceUid: sop,
  sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
  transferSyntaxUid: '1.2.840.10008.1.2.1',
  path: `/data/${sop}.dcm`,
  sizeBytes: 1000,
  sha256: `sha-${sop}`,
  callingAeTitle: 'TEST',
  patientName: 'Doe^Jane',
  seriesNumber: 3,
});

describe('recordInstance', () => {
  it('creates study and series with the first instance, counts new instances, ignores duplicates', async () => {
    const a = await recordInstance(t.db, rec('1.9.1', '1.9.1.1', '1.9.1.1.1'));
    const b = await recordInstance(t.db, rec('1.9.1', '1.9.1.2', '1.9.1.2.1'));
    const again = await recordInstance(t.db, { ...rec('1.9.1', '1.9.1.1', '1.9.1.1.1'), sha256: 'other' });
    expect(a.stored && b.stored).toBe(true);
    expect(again).toMatchObject({ stored: false, studyId: a.studyId, sha256: 'sha-1.9.1.1.1' });
    const study = await t.db.study.findUniqueOrThrow({ where: { studyInstanceUid: '1.9.1' } });
    expect(study).toMatchObject({ instanceCount: 2, status: 'receiving', patientName: 'Doe^Jane' });
    expect(await t.db.series.count({ where: { studyId: study.id } })).toBe(2);
    expect(
      (await t.db.series.findUniqueOrThrow({ where: { seriesInstanceUid: '1.9.1.1' } })).seriesNumber,
    ).toBe(3);
  });

  it('puts an analysed study back to receiving when a new instance arrives, not for a duplicate', async () => {
    const study = await t.db.study.update({
      where: { studyInstanceUid: '1.9.1' },
      data: { status: 'analyzed' },
    });
    await recordInstance(t.db, rec('1.9.1', '1.9.1.1', '1.9.1.1.1'));
    expect((await t.db.study.findUniqueOrThrow({ where: { id: study.id } })).status).toBe('analyzed');
    await recordInstance(t.db, rec('1.9.1', '1.9.1.1', '1.9.1.1.2'));
    const after = await t.db.study.findUniqueOrThrow({ where: { id: study.id } });
    expect(after.status).toBe('receiving');
    expect(after.instanceCount).toBe(3);
    expect(after.lastReceivedAt.getTime()).toBeGreaterThan(study.lastReceivedAt.getTime());
  });

  it('keeps every instance and an exact count when many arrive at once for new studies and series', async () => {
    // Concurrent first instances of one study and of its series race on the unique constraints: the losers'
    // statements cannot see the winners' rows and must retry (this failed once under load before the retry
    // covered new series too).
    const n = 24;
    for (let k = 0; k < 5; k++) {
      const uid = `1.9.2.${k}`;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          recordInstance(t.db, rec(uid, `${uid}.${i % 6}`, `${uid}.${i % 6}.${i}`)),
        ),
      );
      expect(results.every((r) => r.stored)).toBe(true);
      expect(new Set(results.map((r) => r.studyId)).size).toBe(1);
      const study = await t.db.study.findUniqueOrThrow({ where: { studyInstanceUid: uid } });
      expect(study.instanceCount).toBe(n);
      expect(await t.db.series.count({ where: { studyId: study.id } })).toBe(6);
    }
  });
});
