import { Client } from 'pg';
import {
  forgetInstance,
  prismaSqlRunner,
  RECORD_SQL,
  recordInstance,
  type InstanceRecord,
} from './repos/instances';
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

describe('forgetInstance', () => {
  it('takes the row out, one off its study, with an audit event; a second time finds nothing', async () => {
    const kept = await recordInstance(t.db, rec('1.9.5', '1.9.5.1', '1.9.5.1.1'));
    const gone = await recordInstance(t.db, rec('1.9.5', '1.9.5.1', '1.9.5.1.2'));
    if (!gone.stored || !kept.stored) throw new Error('not stored');
    const sql = prismaSqlRunner(t.db);
    expect(await forgetInstance(sql, gone.instanceId, 'dicom:TEST', 'cannot write to disk: EIO')).toBe(true);
    expect(await forgetInstance(sql, gone.instanceId, 'dicom:TEST', 'again')).toBe(false);
    expect(await t.db.instance.findUnique({ where: { id: gone.instanceId } })).toBeNull();
    expect(await t.db.instance.findUnique({ where: { id: kept.instanceId } })).not.toBeNull();
    expect((await t.db.study.findUniqueOrThrow({ where: { studyInstanceUid: '1.9.5' } })).instanceCount).toBe(
      1,
    );
    const events = await t.db.auditEvent.findMany({ where: { action: 'instance.discarded' } });
    expect(events).toMatchObject([
      {
        actor: 'dicom:TEST',
        subjectType: 'instance',
        subjectId: String(gone.instanceId),
        details: { sopInstanceUid: '1.9.5.1.2', why: 'cannot write to disk: EIO' },
      },
    ]);
  });
});

describe('RECORD_SQL', () => {
  it("reads studies, series and instances through their unique indexes in the receiver's generic plan", async () => {
    // tables of some size, analysed: a plan that joins a whole table shows it as a sequential scan
    await t.db.$executeRawUnsafe(`
      INSERT INTO studies (study_instance_uid, instance_count, updated_at)
        SELECT '1.7.' || g, 2, now() FROM generate_series(1, 3000) g`);
    await t.db.$executeRawUnsafe(`
      INSERT INTO series (study_id, series_instance_uid)
        SELECT s.id, s.study_instance_uid || '.' || k FROM studies s, generate_series(1, 2) k
        WHERE s.study_instance_uid LIKE '1.7.%'`);
    await t.db.$executeRawUnsafe(`
      INSERT INTO instances (series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, path, size_bytes,
                             sha256, calling_ae_title)
        SELECT se.id, se.series_instance_uid || '.' || k, '1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.1.2.1',
               '/data/x.dcm', 1000, 'sha', 'TEST'
        FROM series se, generate_series(1, 2) k WHERE se.series_instance_uid LIKE '1.7.%'`);
    await t.db.$executeRawUnsafe('ANALYZE studies, series, instances');
    const client = new Client({ connectionString: t.url });
    await client.connect();
    try {
      await client.query('SET plan_cache_mode = force_generic_plan'); // as openSqlRunner's connections
      const types =
        'text[],text[],text[],text[],text[],text[],text[],text[],int[],text[],text[],text[],text[],text[],int[],text[],text[]';
      await client.query(`PREPARE rec(${types}) AS ${RECORD_SQL}`);
      const args = [
        "'{1.7.5}'",
        "'{P}'",
        "'{N}'",
        "'{A}'",
        "'{20200101}'",
        "'{d}'",
        "'{1.7.5.1}'",
        "'{MR}'",
        "'{1}'",
        "'{s}'",
        "'{1.7.5.1.9}'",
        "'{1.2.840.10008.5.1.4.1.1.4}'",
        "'{1.2.840.10008.1.2.1}'",
        "'{/x}'",
        "'{1}'",
        "'{h}'",
        "'{T}'",
      ];
      const plan = (await client.query(`EXPLAIN EXECUTE rec(${args.join(', ')})`)).rows
        .map((r: Record<string, string>) => r['QUERY PLAN'])
        .join('\n');
      for (const cond of [
        'study_instance_uid = ANY ($1)',
        'series_instance_uid = ANY ($7)',
        'sop_instance_uid = ANY ($11)',
      ])
        expect(plan).toContain(`Index Cond: (${cond})`);
      expect(plan.match(/Seq Scan on (studies|series|instances)\b.*/g) ?? []).toEqual([]);
    } finally {
      await client.end();
    }
  });
});
