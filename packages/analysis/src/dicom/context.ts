import type { DiscLevel } from '@lumbar/core';
import type { SourceImage, WrittenSegment } from '@lumbar/dicom';
import type { AnalysisResult } from '@lumbar/pipeline';

/** Series numbers of the derived series (high, so that they sort after the acquired ones). */
export const SERIES_NUMBERS = { sagittal: 9901, axial: 9902, report: 9903, keyImages: 9904 } as const;

export type View = 'sagittal' | 'axial';

/** One DICOM object written beside findings.json, with what findings.json says about it. */
export interface DicomOutput {
  file: string;
  kind: 'seg' | 'sr' | 'key-image';
  view?: View;
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  /** SEG: the segment number of each disc level. */
  segments?: Array<{ segmentNumber: number; level: DiscLevel }>;
  /** SR: the measurement group of each reported level and the segment it cites. */
  levels?: Array<{
    level: DiscLevel;
    trackingUid: string;
    segment: { file: string; segmentNumber: number } | null;
  }>;
  /** SR: the grading group of each disc the sagittal grader graded and the segment it cites. */
  gradings?: Array<{
    level: DiscLevel;
    trackingUid: string;
    segment: { file: string; segmentNumber: number } | null;
  }>;
  bytes: Buffer;
}

/** What the builders of one analysis share: the result, source lookup and the UID rules. */
export interface Context {
  result: AnalysisResult;
  source: (uid: string) => SourceImage;
  uids: (series: string, instance: string) => { seriesInstanceUid: string; sopInstanceUid: string };
  trackingUid: (level: DiscLevel) => string;
  algorithm: { name: string; version: string; parameters: string };
  createdAt: Date;
}

export interface BuiltSeg extends DicomOutput {
  view: View;
  written: WrittenSegment[];
}
