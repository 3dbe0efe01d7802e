import { NotFoundError } from '@lumbar/core';
import { findResultAnalysis, findStudy, type PrismaClient } from '@lumbar/db';
import { Type } from 'typebox';
import { DateTime, Nullable, STUDY_STATUSES } from './schemas';

type Study = NonNullable<Awaited<ReturnType<typeof findStudy>>>;

/** What a client sees of a study: identifiers of the examination, never the patient's name or id. */
export const StudySummary = Type.Object({
  id: Type.Integer(),
  studyInstanceUid: Type.String(),
  accessionNumber: Nullable(Type.String()),
  studyDate: Nullable(Type.String({ description: 'DICOM date, YYYYMMDD' })),
  studyDescription: Nullable(Type.String()),
  status: Type.Enum(STUDY_STATUSES),
  instanceCount: Type.Integer(),
  firstReceivedAt: DateTime,
  lastReceivedAt: DateTime,
  updatedAt: DateTime,
});

export function studyView(s: Study) {
  return {
    id: s.id,
    studyInstanceUid: s.studyInstanceUid,
    accessionNumber: s.accessionNumber,
    studyDate: s.studyDate,
    studyDescription: s.studyDescription,
    status: s.status,
    instanceCount: s.instanceCount,
    firstReceivedAt: s.firstReceivedAt.toISOString(),
    lastReceivedAt: s.lastReceivedAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

export async function requireStudy(db: PrismaClient, id: number): Promise<Study> {
  const study = await findStudy(db, id);
  if (!study) throw new NotFoundError(`study ${id} does not exist`);
  return study;
}

/**
 * The analysis whose results a study shows: the newest one that has results (an output folder). A study
 * being re-analysed keeps showing its previous results until the new ones are committed.
 */
export async function resultAnalysis(db: PrismaClient, studyId: number) {
  return findResultAnalysis(db, studyId);
}

/** The study and its current results; 404 when the study does not exist or has no results yet. */
export async function requireResult(db: PrismaClient, studyId: number) {
  const study = await requireStudy(db, studyId);
  const analysis = await resultAnalysis(db, studyId);
  if (!analysis || !analysis.outputDir) {
    throw new NotFoundError(`study ${studyId} has no analysis results yet (status ${study.status})`);
  }
  return { study, analysis: { ...analysis, outputDir: analysis.outputDir } };
}

/** Probabilities as stored (JSON): only the finite numbers. */
export function probabilities(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, p] of Object.entries(v)) if (typeof p === 'number' && Number.isFinite(p)) out[k] = p;
  }
  return out;
}
