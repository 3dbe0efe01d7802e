import {
  ensureAnalysis,
  findStudyForAnalysis,
  listPendingExports,
  markAnalysisFailed,
  markAnalysisRunning,
  releaseAnalysis,
  saveAnalysisResult,
  setStudyStatus,
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
    findStudy: (id) => findStudyForAnalysis(db, id),
    ensureAnalysis: (studyId, algorithm) => ensureAnalysis(db, studyId, algorithm),
    markStudyAnalyzed: (studyId) => setStudyStatus(db, studyId, 'analyzed'),
    markAnalysisRunning: (analysisId, studyId) => markAnalysisRunning(db, analysisId, studyId),
    markAnalysisFailed: (analysisId, studyId, why) => markAnalysisFailed(db, analysisId, studyId, why),
    releaseAnalysis: (analysisId, studyId, why) => releaseAnalysis(db, analysisId, studyId, why),
    saveAnalysisResult: (a, findings, outputs, destinations) =>
      saveAnalysisResult(db, a, findings, outputs, destinations),
    pendingExports: (analysisId) => listPendingExports(db, analysisId),
  };
}
