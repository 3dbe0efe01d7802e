import { ALGORITHM } from '@lumbar/core';
import type { AnalysisResult } from '@lumbar/pipeline';
import { dicomOutputsDocument, type DicomOutput } from './dicom-outputs';

/** findings.json: what a RIS or a person reads. Pixel data (masks, key images) stays out of it. */
export function findingsDocument(
  r: AnalysisResult,
  series: { sagittal: string | null; axial: string | null },
  extraWarnings: string[],
  dicom: readonly DicomOutput[] = [],
) {
  return {
    studyInstanceUid: r.studyInstanceUid,
    levels: r.levels,
    summary: r.summary,
    algorithm: { name: ALGORITHM.name, version: ALGORITHM.version, models: r.models },
    disclaimer: ALGORITHM.disclaimer,
    series,
    discs: r.discs,
    sagittalProbabilities: r.sagittalProbabilities,
    gradings: r.gradings,
    keyImages: r.keyImages.map((k, i) => ({
      file: `key-images/${i + 1}.png`,
      title: k.title,
      sopInstanceUid: k.sopInstanceUid,
    })),
    dicom: dicomOutputsDocument(dicom),
    warnings: [...extraWarnings, ...r.warnings],
    timingsMs: r.timingsMs,
  };
}

/**
 * One line on the sagittal grader's findings per disc, from L5-S1 up ("" without the grader):
 * "sagittal grading (sag-grading 1.0.0): L5-S1 Pfirrmann 4, herniation, narrowing; L4-L5 Pfirrmann 3".
 */
export function gradingLine(r: { gradings: readonly GradingLike[] }): string {
  if (r.gradings.length === 0) return '';
  const { name, version } = r.gradings[0].model;
  const discs = r.gradings.map((g) => {
    const flags = (['herniation', 'bulging', 'narrowing'] as const).filter((k) => g.flags[k]);
    return [`${g.level} Pfirrmann ${g.pfirrmann.grade}`, ...flags].join(', ');
  });
  return `sagittal grading (${name} ${version}): ${discs.join('; ')}`;
}

interface GradingLike {
  level: string;
  model: { name: string; version: string };
  pfirrmann: { grade: number };
  flags: { herniation: boolean; bulging: boolean; narrowing: boolean };
}
