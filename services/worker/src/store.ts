import {
  ensureAnalysis,
  markAnalysisFailed,
  markAnalysisRunning,
  saveAnalysisResult,
  type FindingInput,
  type OutputInput,
  type PrismaClient,
} from '@lumbar/db';

/** What the study handler reads and writes, and nothing else: Postgres in production, memory in unit tests. */
export interface StudyStore {
  findStudy(
    id: number,
  ): Promise<{ id: number; studyInstanceUid: string; status: string; lastReceivedAt: Date } | null>;
  /** The analysis of the study by this algorithm version, created if missing. */
  ensureAnalysis(
    studyId: number,
    algorithm: { name: string; version: string },
  ): Promise<{ id: number; status: string; startedAt: Date | null }>;
  markStudyAnalyzed(studyId: number): Promise<void>;
  markAnalysisRunning(analysisId: number, studyId: number): Promise<void>;
  markAnalysisFailed(analysisId: number, studyId: number, why: string): Promise<void>;
  /** Back to queued (the node stopped while it ran): neither failed nor lost; the reconciler queues it again. */
  releaseAnalysis(analysisId: number, studyId: number, why: string): Promise<void>;
  /** Findings, outputs and one pending export per destination, in one transaction; returns those exports. */
  saveAnalysisResult(
    a: { analysisId: number; studyId: number; summary: string; document: unknown; outputDir: string },
    findings: FindingInput[],
    outputs: OutputInput[],
    destinations: string[],
  ): Promise<Array<{ id: number; updatedAt: Date }>>;
  pendingExports(analysisId: number): Promise<Array<{ id: number; updatedAt: Date }>>;
}

/** The StudyStore of a running node. */
export function prismaStudyStore(db: PrismaClient): StudyStore {
  return {
    findStudy: (id) =>
      db.study.findUnique({
        where: { id },
        select: { id: true, studyInstanceUid: true, status: true, lastReceivedAt: true },
      }),
    ensureAnalysis: (studyId, algorithm) => ensureAnalysis(db, studyId, algorithm),
    markStudyAnalyzed: async (studyId) => {
      await db.study.update({ where: { id: studyId }, data: { status: 'analyzed' } });
    },
    markAnalysisRunning: (analysisId, studyId) => markAnalysisRunning(db, analysisId, studyId),
    markAnalysisFailed: (analysisId, studyId, why) => markAnalysisFailed(db, analysisId, studyId, why),
    releaseAnalysis: async (analysisId, studyId, why) => {
      await db.$transaction([
        db.analysis.update({
          where: { id: analysisId },
          data: { status: 'queued', startedAt: null, lastError: why.slice(0, 4000) },
        }),
        db.study.update({ where: { id: studyId }, data: { status: 'queued' } }),
      ]);
    },
    saveAnalysisResult: (a, findings, outputs, destinations) =>
      saveAnalysisResult(db, a, findings, outputs, destinations),
    pendingExports: (analysisId) =>
      db.export.findMany({
        where: { analysisId, status: 'pending' },
        select: { id: true, updatedAt: true },
      }),
  };
}
