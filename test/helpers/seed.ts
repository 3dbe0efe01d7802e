import {
  ensureAnalysis,
  recordInstance,
  saveAnalysisResult,
  type FindingInput,
  type InstanceRecord,
  type PrismaClient,
} from '@lumbar/db';

/**
 * One MR instance of study `uid` (series `<uid>.1`, instance `<uid>.1.1`) as the receiver records it: a lumbar
 * T2 sagittal from STORESCU, with no file behind it; `fields` override or add (patient, accession, ...).
 */
export function mrInstance(uid: string, fields: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    studyInstanceUid: uid,
    seriesInstanceUid: `${uid}.1`,
    sopInstanceUid: `${uid}.1.1`,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    path: `/nowhere/${uid}.dcm`,
    sizeBytes: 1000,
    sha256: 'ab'.repeat(32),
    callingAeTitle: 'STORESCU',
    studyDate: '20240102',
    studyDescription: 'MR LUMBAR SPINE',
    modality: 'MR',
    seriesNumber: 1,
    seriesDescription: 'T2 SAG',
    ...fields,
  };
}

/**
 * A study of `instances` instances in `series` series (UIDs under `uid`), recorded as the receiver does; its
 * id. Series i is numbered `series - i` so that the series number order differs from the id order.
 */
export async function seedStudy(
  db: PrismaClient,
  uid: string,
  opts: { series?: number; instances?: number; accessionNumber?: string } = {},
): Promise<number> {
  const series = opts.series ?? 1;
  const n = opts.instances ?? 1;
  let studyId = 0;
  for (let i = 0; i < n; i++) {
    const s = i % series;
    const r = await recordInstance(db, {
      studyInstanceUid: uid,
      seriesInstanceUid: `${uid}.${s + 1}`,
      sopInstanceUid: `${uid}.${s + 1}.${i + 1}`,
      sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      path: `/data/${uid}/${i + 1}.dcm`,
      sizeBytes: 1000,
      sha256: `sha-${uid}-${i + 1}`,
      callingAeTitle: 'TEST',
      accessionNumber: opts.accessionNumber ?? null,
      studyDate: '20240102',
      seriesNumber: series - s,
    });
    studyId = r.studyId;
  }
  return studyId;
}

/**
 * A finished analysis of the study by algorithm `version` (summary, one finding per level, one output) with
 * one pending export per destination, saved as the worker does; its id and its exports' ids.
 */
export async function seedAnalysisResult(
  db: PrismaClient,
  studyId: number,
  opts: { version?: string; levels?: string[]; destinations?: string[]; document?: unknown } = {},
): Promise<{ analysisId: number; exportIds: number[] }> {
  const version = opts.version ?? '1.0.0';
  const a = await ensureAnalysis(db, studyId, { name: 'lumbar-test', version });
  const findings: FindingInput[] = (opts.levels ?? ['L4-L5']).map((level) => ({
    level,
    diagnosis: 'normal',
    probabilities: { normal: 0.9 },
  }));
  const exports = await saveAnalysisResult(
    db,
    {
      analysisId: a.id,
      studyId,
      summary: `summary ${version}`,
      document: opts.document ?? { keyImages: [] },
      outputDir: `/out/${studyId}/${version}`,
    },
    findings,
    [
      {
        kind: 'sr',
        file: 'sr.dcm',
        sopClassUid: '1.2.840.10008.5.1.4.1.1.88.22',
        sopInstanceUid: `2.25.${studyId}${version.replace(/\D/g, '')}${Math.floor(Math.random() * 1e9)}`,
        seriesInstanceUid: `2.25.${studyId}9`,
      },
    ],
    opts.destinations ?? [],
  );
  return { analysisId: a.id, exportIds: exports.map((e) => e.id) };
}
