import { Pool } from 'pg';
import type { PrismaClient } from '../generated/client';

/** What the receiver knows of one stored instance: its identity, where it lies, and study/series headers. */
export interface InstanceRecord {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  path: string;
  sizeBytes: number;
  sha256: string;
  callingAeTitle: string;
  patientId?: string | null;
  patientName?: string | null;
  accessionNumber?: string | null;
  studyDate?: string | null;
  studyDescription?: string | null;
  modality?: string | null;
  seriesNumber?: number | null;
  seriesDescription?: string | null;
}

export type RecordResult =
  /**
   * `studyStatus`: the study's status before and after this statement (`receiving` unless an analysis has or
   * had it; a new study is `receiving`).
   */
  | { stored: true; studyId: number; instanceId: number; studyStatus: { before: string; after: string } }
  | { stored: false; studyId: number; instanceId: number; path: string; sha256: string };

/** Runs one parameterised statement: a pg Pool or Client (the receiver's hot path), or Prisma (below). */
export interface SqlRunner {
  query(sql: string, params: unknown[]): Promise<Record<string, unknown>[]>;
}

/**
 * A small pg pool for the receiver's statement (no ORM between it and Postgres: one round trip, little CPU).
 * Each statement text is prepared once per connection (named) and runs its generic plan: otherwise Postgres
 * plans RECORD_SQL again on every call (its custom plans look cheaper), 0.65 ms of a 1.9 ms statement here
 * (docs/BENCHMARKS.md). RECORD_SQL reaches every table through a unique index, whatever their size.
 */
export function openSqlRunner(databaseUrl: string, max = 4): SqlRunner & { end(): Promise<void> } {
  const pool = new Pool({
    connectionString: databaseUrl,
    max,
    connectionTimeoutMillis: 10_000,
    options: '-c plan_cache_mode=force_generic_plan',
  });
  pool.on('error', () => undefined); // an idle connection that breaks: the next query reports it
  const names = new Map<string, string>();
  const nameOf = (sql: string) => {
    let name = names.get(sql);
    if (!name) names.set(sql, (name = `lumbar_${names.size + 1}`));
    return name;
  };
  return {
    query: async (sql, params) => (await pool.query({ name: nameOf(sql), text: sql, values: params })).rows,
    end: () => pool.end(),
  };
}

/** The same statements through Prisma's raw query (tests and one-off callers hold a PrismaClient). */
export const prismaSqlRunner = (db: PrismaClient): SqlRunner => ({
  query: (sql, params) => db.$queryRawUnsafe<Record<string, unknown>[]>(sql, ...params),
});

/**
 * One statement records a batch of received instances (one round trip and one commit for all of them, the
 * receiver's group commit): study and series rows are created when new, each instance row is inserted unless
 * its SOP Instance UID is already there (the unique constraint is the idempotency guard), and new instances
 * bump their study's count and last-received time. A study that had been analysed goes back to `receiving`:
 * late images lead to a new analysis. Each new instance also writes its audit event `instance.received`
 * (actor `dicom:<calling AE>`, PS3.15 "DICOM Instances Transferred"), in the same statement. It returns, per
 * input row (`ord`, from 1), the study, series and instance ids (instance null when not inserted), the
 * study's status before and after the statement, and the row already stored under that SOP Instance UID, if any.
 * Every table is read through a unique index (`= ANY` of the input's arrays, never a join of the whole table),
 * so the one generic plan the receiver's pool keeps (openSqlRunner) stays right whatever the tables' sizes.
 */
export const RECORD_SQL = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::int[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                         $15::int[], $16::text[], $17::text[])
      WITH ORDINALITY AS i(study_uid, patient_id, patient_name, accession_number, study_date, study_description,
                          series_uid, modality, series_number, series_description, sop_uid, sop_class_uid,
                          transfer_syntax_uid, path, size_bytes, sha256, calling_ae_title, ord)
  ), new_study AS (
    INSERT INTO studies (study_instance_uid, patient_id, patient_name, accession_number, study_date,
                         study_description, instance_count)
    SELECT DISTINCT ON (i.study_uid) i.study_uid, i.patient_id, i.patient_name, i.accession_number, i.study_date,
           i.study_description, (SELECT count(DISTINCT j.sop_uid) FROM input j WHERE j.study_uid = i.study_uid)
    FROM input i
    ORDER BY i.study_uid, i.ord
    ON CONFLICT (study_instance_uid) DO NOTHING
    RETURNING id, study_instance_uid, status
  ), study AS (
    SELECT id, study_instance_uid, status, true AS is_new FROM new_study
    UNION ALL
    SELECT id, study_instance_uid, status, false FROM studies
    WHERE study_instance_uid = ANY ($1::text[])
      AND study_instance_uid NOT IN (SELECT study_instance_uid FROM new_study)
  ), new_series AS (
    INSERT INTO series (study_id, series_instance_uid, modality, series_number, series_description)
    SELECT DISTINCT ON (i.series_uid) st.id, i.series_uid, i.modality, i.series_number, i.series_description
    FROM input i JOIN study st ON st.study_instance_uid = i.study_uid
    ORDER BY i.series_uid, i.ord
    ON CONFLICT (series_instance_uid) DO NOTHING
    RETURNING id, series_instance_uid
  ), ser AS (
    SELECT id, series_instance_uid FROM new_series
    UNION ALL
    SELECT id, series_instance_uid FROM series
    WHERE series_instance_uid = ANY ($7::text[])
      AND series_instance_uid NOT IN (SELECT series_instance_uid FROM new_series)
  ), inst AS (
    INSERT INTO instances (series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, path, size_bytes,
                           sha256, calling_ae_title)
    SELECT se.id, i.sop_uid, i.sop_class_uid, i.transfer_syntax_uid, i.path, i.size_bytes, i.sha256,
           i.calling_ae_title
    FROM input i JOIN ser se ON se.series_instance_uid = i.series_uid
    ORDER BY i.sop_uid
    ON CONFLICT (sop_instance_uid) DO NOTHING
    RETURNING id, sop_instance_uid
  ), added AS (
    SELECT st.id, count(*) AS n
    FROM inst JOIN input i ON i.sop_uid = inst.sop_instance_uid JOIN study st ON st.study_instance_uid = i.study_uid
    WHERE NOT st.is_new
    GROUP BY st.id
  ), bump AS (
    UPDATE studies s SET instance_count = s.instance_count + added.n, last_received_at = now(), updated_at = now(),
      status = CASE WHEN s.status IN ('analyzed', 'failed') THEN 'receiving'::"StudyStatus" ELSE s.status END
    FROM added
    WHERE s.id = added.id
    RETURNING s.id, s.status
  ), logged AS (
    INSERT INTO audit_events (at, actor, action, subject_type, subject_id, details)
    SELECT now() AT TIME ZONE 'UTC', 'dicom:' || i.calling_ae_title, 'instance.received', 'instance', inst.id::text,
           jsonb_build_object('studyId', st.id, 'studyInstanceUid', i.study_uid, 'sopInstanceUid', i.sop_uid,
                              'sopClassUid', i.sop_class_uid, 'callingAeTitle', i.calling_ae_title)
    FROM inst JOIN input i ON i.sop_uid = inst.sop_instance_uid JOIN study st ON st.study_instance_uid = i.study_uid
    RETURNING id
  )
  SELECT i.ord::int AS ord, st.id AS study_id, se.id AS series_id, inst.id AS instance_id,
         st.status::text AS status_before, COALESCE(b.status, st.status)::text AS status_after,
         old.id AS old_id, old.path AS old_path, old.sha256 AS old_sha256
  FROM input i
  LEFT JOIN study st ON st.study_instance_uid = i.study_uid
  LEFT JOIN ser se ON se.series_instance_uid = i.series_uid
  LEFT JOIN inst ON inst.sop_instance_uid = i.sop_uid
  LEFT JOIN bump b ON b.id = st.id
  LEFT JOIN (SELECT id, path, sha256, sop_instance_uid FROM instances WHERE sop_instance_uid = ANY ($11::text[])) old
    ON old.sop_instance_uid = i.sop_uid
  ORDER BY i.ord`;

interface Row {
  ord: number;
  study_id: number | null;
  series_id: number | null;
  instance_id: number | null;
  status_before: string | null;
  status_after: string | null;
  old_id: number | null;
  old_path: string | null;
  old_sha256: string | null;
}

const params = (rs: InstanceRecord[]): unknown[] => {
  const col = <T>(f: (r: InstanceRecord) => T) => rs.map(f);
  return [
    col((r) => r.studyInstanceUid),
    col((r) => r.patientId ?? null),
    col((r) => r.patientName ?? null),
    col((r) => r.accessionNumber ?? null),
    col((r) => r.studyDate ?? null),
    col((r) => r.studyDescription ?? null),
    col((r) => r.seriesInstanceUid),
    col((r) => r.modality ?? null),
    col((r) => r.seriesNumber ?? null),
    col((r) => r.seriesDescription ?? null),
    col((r) => r.sopInstanceUid),
    col((r) => r.sopClassUid),
    col((r) => r.transferSyntaxUid),
    col((r) => r.path),
    col((r) => r.sizeBytes),
    col((r) => r.sha256),
    col((r) => r.callingAeTitle),
  ];
};

/** Postgres errors worth a new statement: a deadlock between concurrent batches, a serialization failure. */
const transient = (err: unknown) => ['40P01', '40001'].includes((err as { code?: string })?.code ?? '');

/**
 * Records a batch of instances in one statement (see RECORD_SQL); results in input order. A SOP Instance UID
 * that appears twice in the batch goes to a second statement (the second is then a duplicate of the first).
 */
export async function recordInstances(sql: SqlRunner, records: InstanceRecord[]): Promise<RecordResult[]> {
  const results: (RecordResult | undefined)[] = new Array(records.length);
  let todo = records.map((_, i) => i);
  for (let attempt = 0; todo.length > 0; attempt++) {
    if (attempt >= 5) throw new Error(`${todo.length} instances could not be recorded (concurrent inserts)`);
    const seen = new Set<string>();
    const batch = todo.filter(
      (i) => !seen.has(records[i].sopInstanceUid) && seen.add(records[i].sopInstanceUid),
    );
    const later = todo.filter((i) => !batch.includes(i));
    let rows: Row[];
    try {
      rows = (await sql.query(RECORD_SQL, params(batch.map((i) => records[i])))) as unknown as Row[];
    } catch (err) {
      if (!transient(err)) throw err;
      todo = [...batch, ...later];
      continue;
    }
    const retry: number[] = [];
    for (const row of rows) {
      const i = batch[row.ord - 1];
      // No study or series id: another transaction created it between this statement's snapshot and its
      // insert (ON CONFLICT waited for it, then did nothing); a new statement sees it.
      if (row.study_id === null || row.series_id === null) retry.push(i);
      else if (row.instance_id !== null)
        results[i] = {
          stored: true,
          studyId: row.study_id,
          instanceId: row.instance_id,
          studyStatus: { before: row.status_before ?? '', after: row.status_after ?? '' },
        };
      else if (row.old_id !== null)
        results[i] = {
          stored: false,
          studyId: row.study_id,
          instanceId: row.old_id,
          path: row.old_path ?? '',
          sha256: row.old_sha256 ?? '',
        };
      // Inserted by another transaction after this statement's snapshot: a new statement sees it.
      else retry.push(i);
    }
    todo = [...retry, ...later];
  }
  return results as RecordResult[];
}

const FORGET_SQL = `
  WITH gone AS (
    DELETE FROM instances WHERE id = $1 RETURNING id, series_id, sop_instance_uid
  ), bump AS (
    UPDATE studies s SET instance_count = s.instance_count - 1, updated_at = now()
    FROM series se, gone
    WHERE se.id = gone.series_id AND s.id = se.study_id
    RETURNING s.id
  )
  INSERT INTO audit_events (at, actor, action, subject_type, subject_id, details)
  SELECT now() AT TIME ZONE 'UTC', $2, 'instance.discarded', 'instance', gone.id::text,
         jsonb_build_object('sopInstanceUid', gone.sop_instance_uid, 'why', $3::text)
  FROM gone
  RETURNING id`;

/**
 * Takes out the row of an instance whose file could not be made durable after the row was recorded (the
 * receiver records the row while the file is fsynced): the row, one off its study's count, and an audit event
 * `instance.discarded`. Returns whether there was such a row.
 */
export async function forgetInstance(
  sql: SqlRunner,
  instanceId: number,
  actor: string,
  why: string,
): Promise<boolean> {
  return (await sql.query(FORGET_SQL, [instanceId, actor, why.slice(0, 200)])).length > 0;
}

/**
 * Records one received instance (recordInstances with one record): one SQL statement, one round trip, one
 * commit.
 */
export async function recordInstance(db: PrismaClient, r: InstanceRecord): Promise<RecordResult> {
  const [result] = await recordInstances(prismaSqlRunner(db), [r]);
  return result;
}

/** The instance already stored under this SOP Instance UID, if any, with its study id (a re-sent instance is
 * answered without storing it twice). */
export async function findInstance(db: PrismaClient, sopInstanceUid: string) {
  return db.instance.findUnique({
    where: { sopInstanceUid },
    include: { series: { select: { studyId: true } } },
  });
}
