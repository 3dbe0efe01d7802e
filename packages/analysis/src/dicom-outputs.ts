import { ALGORITHM, InputError } from '@lumbar/core';
import { algorithmId, derivedUids, deterministicUid, type SourceImage } from '@lumbar/dicom';
import type { AnalysisResult } from '@lumbar/pipeline';
import type { Context, DicomOutput } from './dicom/context';
import { keyImages } from './dicom/key-images';
import { report } from './dicom/report';
import { segmentations } from './dicom/segmentations';

export { SERIES_NUMBERS, type DicomOutput } from './dicom/context';
export { OUTLINE_TRACKING_ID } from './dicom/report';

/**
 * The DICOM outputs of one analysis: a SEG per source series that has disc masks, a TID 1500 SR and a
 * secondary capture per key image. Pure: the source headers come in, bytes come out. UIDs derive from the
 * study, the algorithm and model versions and the object, so a re-run gives the same UIDs.
 */
export function buildDicomOutputs(
  result: AnalysisResult,
  sources: readonly SourceImage[],
  opts: { createdAt: Date },
): { outputs: DicomOutput[]; warnings: string[] } {
  const byUid = new Map(sources.map((s) => [s.sopInstanceUid, s]));
  const algId = algorithmId(result.models);
  const ctx: Context = {
    result,
    source: (uid) => {
      const s = byUid.get(uid);
      if (!s) throw new InputError(`no header for source instance ${uid}`);
      return s;
    },
    uids: (series, instance) => derivedUids(result.studyInstanceUid, algId, series, instance),
    trackingUid: (level) => deterministicUid(result.studyInstanceUid, algId, 'tracking', level),
    algorithm: {
      name: ALGORITHM.name,
      version: ALGORITHM.version,
      parameters: Object.entries(result.models)
        .map(([role, m]) => `${role}: ${m.name} ${m.version}`)
        .join('; '),
    },
    createdAt: opts.createdAt,
  };
  const warnings: string[] = [];
  const segs = segmentations(ctx, warnings);
  return { outputs: [...segs, report(ctx, segs, [...sources]), ...keyImages(ctx)], warnings };
}

/** What findings.json says about the DICOM outputs (no pixel data). */
export function dicomOutputsDocument(outputs: readonly DicomOutput[]) {
  return outputs.map(
    ({ file, kind, view, sopClassUid, sopInstanceUid, seriesInstanceUid, segments, levels, gradings }) => ({
      file,
      kind,
      ...(view ? { view } : {}),
      sopClassUid,
      sopInstanceUid,
      seriesInstanceUid,
      ...(segments ? { segments } : {}),
      ...(levels ? { levels } : {}),
      ...(gradings?.length ? { gradings } : {}),
    }),
  );
}
