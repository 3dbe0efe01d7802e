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
  | { stored: true; studyId: number; instanceId: number }
  | { stored: false; studyId: number; instanceId: number; path: string; sha256: string };

/**
 * Records one received instance in one SQL statement (one round trip, one commit: the receiver's hot path):
 * study and series rows are created when new, the instance row is inserted unless its SOP Instance UID is
 * already there (the unique constraint is the idempotency guard), and a new instance bumps its study's count
 * and last-received time. A study that had been analysed goes back to `receiving`: late images lead to a new
 * analysis. A new instance also writes its audit event `instance.received` (actor `dicom:<calling AE>`, PS3.15
 * "DICOM Instances Transferred"), in the same statement.
 */
export async function recordInstance(db: PrismaClient, r: InstanceRecord): Promise<RecordResult> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [row] = await db.$queryRaw<
      { study_id: number | null; series_id: number | null; instance_id: number | null }[]
    >`
      WITH new_study AS (
        INSERT INTO studies (study_instance_uid, patient_id, patient_name, accession_number, study_date,
                             study_description, instance_count)
        VALUES (${r.studyInstanceUid}, ${r.patientId ?? null}, ${r.patientName ?? null},
                ${r.accessionNumber ?? null}, ${r.studyDate ?? null}, ${r.studyDescription ?? null}, 1)
        ON CONFLICT (study_instance_uid) DO NOTHING
        RETURNING id
      ), study AS (
        SELECT id FROM new_study
        UNION ALL
        SELECT id FROM studies
        WHERE study_instance_uid = ${r.studyInstanceUid} AND NOT EXISTS (SELECT 1 FROM new_study)
      ), new_series AS (
        INSERT INTO series (study_id, series_instance_uid, modality, series_number, series_description)
        SELECT id, ${r.seriesInstanceUid}, ${r.modality ?? null}, ${r.seriesNumber ?? null}::int,
               ${r.seriesDescription ?? null}
        FROM study
        ON CONFLICT (series_instance_uid) DO NOTHING
        RETURNING id
      ), ser AS (
        SELECT id FROM new_series
        UNION ALL
        SELECT id FROM series
        WHERE series_instance_uid = ${r.seriesInstanceUid} AND NOT EXISTS (SELECT 1 FROM new_series)
      ), inst AS (
        INSERT INTO instances (series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, path, size_bytes,
                               sha256, calling_ae_title)
        SELECT id, ${r.sopInstanceUid}, ${r.sopClassUid}, ${r.transferSyntaxUid}, ${r.path}, ${r.sizeBytes}::int,
               ${r.sha256}, ${r.callingAeTitle}
        FROM ser
        ON CONFLICT (sop_instance_uid) DO NOTHING
        RETURNING id
      ), bump AS (
        UPDATE studies SET instance_count = instance_count + 1, last_received_at = now(), updated_at = now(),
          status = CASE WHEN status IN ('analyzed', 'failed') THEN 'receiving'::"StudyStatus" ELSE status END
        WHERE id = (SELECT id FROM study) AND NOT EXISTS (SELECT 1 FROM new_study) AND EXISTS (SELECT 1 FROM inst)
        RETURNING id
      ), logged AS (
        INSERT INTO audit_events (at, actor, action, subject_type, subject_id, details)
        SELECT now() AT TIME ZONE 'UTC', ${`dicom:${r.callingAeTitle}`}, 'instance.received', 'instance',
               inst.id::text,
               jsonb_build_object('studyId', (SELECT id FROM study), 'studyInstanceUid', ${r.studyInstanceUid}::text,
                                  'sopInstanceUid', ${r.sopInstanceUid}::text, 'sopClassUid', ${r.sopClassUid}::text,
                                  'callingAeTitle', ${r.callingAeTitle}::text)
        FROM inst
        RETURNING id
      )
      SELECT (SELECT id FROM study) AS study_id, (SELECT id FROM ser) AS series_id,
             (SELECT id FROM inst) AS instance_id`;
    // No study or series id: another association created it between this statement's snapshot and its
    // insert (ON CONFLICT waited for it, then did nothing); a new statement sees it.
    if (row.study_id === null || row.series_id === null) continue;
    if (row.instance_id !== null) return { stored: true, studyId: row.study_id, instanceId: row.instance_id };
    const existing = await db.instance.findUniqueOrThrow({ where: { sopInstanceUid: r.sopInstanceUid } });
    return {
      stored: false,
      studyId: row.study_id,
      instanceId: existing.id,
      path: existing.path,
      sha256: existing.sha256,
    };
  }
  throw new Error(`study ${r.studyInstanceUid} could not be recorded (concurrent inserts)`);
}

/** The instance already stored under this SOP Instance UID, if any, with its study id (a re-sent instance is
 * answered without storing it twice). */
export async function findInstance(db: PrismaClient, sopInstanceUid: string) {
  return db.instance.findUnique({
    where: { sopInstanceUid },
    include: { series: { select: { studyId: true } } },
  });
}
