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
 * Records one received instance: study and series rows are created or touched, the instance row is
 * inserted unless its SOP Instance UID is already there (the unique constraint is the idempotency guard).
 * A study that had been analysed goes back to `receiving`: late images lead to a new analysis.
 */
export async function recordInstance(db: PrismaClient, r: InstanceRecord): Promise<RecordResult> {
  return db.$transaction(async (tx) => {
    const [study] = await tx.$queryRaw<{ id: number }[]>`
      INSERT INTO studies (study_instance_uid, patient_id, patient_name, accession_number, study_date, study_description)
      VALUES (${r.studyInstanceUid}, ${r.patientId ?? null}, ${r.patientName ?? null}, ${r.accessionNumber ?? null},
              ${r.studyDate ?? null}, ${r.studyDescription ?? null})
      ON CONFLICT (study_instance_uid) DO UPDATE SET updated_at = now()
      RETURNING id`;
    const [series] = await tx.$queryRaw<{ id: number }[]>`
      INSERT INTO series (study_id, series_instance_uid, modality, series_number, series_description)
      VALUES (${study.id}, ${r.seriesInstanceUid}, ${r.modality ?? null}, ${r.seriesNumber ?? null}, ${r.seriesDescription ?? null})
      ON CONFLICT (series_instance_uid) DO UPDATE SET modality = EXCLUDED.modality
      RETURNING id`;
    const inserted = await tx.$queryRaw<{ id: number }[]>`
      INSERT INTO instances (series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, path, size_bytes, sha256, calling_ae_title)
      VALUES (${series.id}, ${r.sopInstanceUid}, ${r.sopClassUid}, ${r.transferSyntaxUid}, ${r.path}, ${r.sizeBytes},
              ${r.sha256}, ${r.callingAeTitle})
      ON CONFLICT (sop_instance_uid) DO NOTHING
      RETURNING id`;
    if (inserted.length === 0) {
      const existing = await tx.instance.findUniqueOrThrow({
        where: { sopInstanceUid: r.sopInstanceUid },
      });
      return {
        stored: false,
        studyId: study.id,
        instanceId: existing.id,
        path: existing.path,
        sha256: existing.sha256,
      };
    }
    await tx.$executeRaw`
      UPDATE studies SET instance_count = instance_count + 1, last_received_at = now(), updated_at = now(),
        status = CASE WHEN status IN ('analyzed', 'failed') THEN 'receiving'::"StudyStatus" ELSE status END
      WHERE id = ${study.id}`;
    return { stored: true, studyId: study.id, instanceId: inserted[0].id };
  });
}

/** The SOP Instance UID already stored, if any (a re-sent instance is answered without storing it twice). */
export async function findInstance(db: PrismaClient, sopInstanceUid: string) {
  return db.instance.findUnique({ where: { sopInstanceUid } });
}
