import { ALGORITHM, AXIAL_CLASSES, discLabel } from '@lumbar/core';
import {
  CODES,
  DISC_CODES,
  PROBABILITY_CODES,
  deterministicUid,
  diagnosisCodes,
  measurementReportDataset,
  writePart10,
  type SourceImage,
  type SrImageRef,
  type SrMeasurement,
  type SrMeasurementGroup,
} from '@lumbar/dicom';
import type { LevelFinding } from '@lumbar/pipeline';
import { SERIES_NUMBERS, type BuiltSeg, type Context, type DicomOutput } from './context';

/** The TID 1500 report: one measurement group per reported level, citing its segment and source images. */
export function report(ctx: Context, segs: BuiltSeg[], sources: SourceImage[]): DicomOutput {
  const ids = ctx.uids('sr', 'sr');
  const groups = ctx.result.levels.map((l) => measurementGroup(ctx, l, segs));
  const dataset = measurementReportDataset({
    sources,
    groups: groups.map((g) => g.group),
    summary: ctx.result.summary,
    disclaimer: ALGORITHM.disclaimer,
    observer: {
      uid: deterministicUid(ALGORITHM.name, ALGORITHM.version, 'device-observer'),
      name: ALGORITHM.name,
      manufacturer: ALGORITHM.manufacturer,
      modelName: `${ALGORITHM.name} ${ALGORITHM.version}`,
    },
    algorithm: ctx.algorithm,
    procedure: CODES.mriUnspecifiedBodyRegion,
    ids: {
      ...ids,
      seriesNumber: SERIES_NUMBERS.report,
      instanceNumber: 1,
      seriesDescription: `${ALGORITHM.name} disc report - not for primary diagnosis`,
    },
    createdAt: ctx.createdAt,
  });
  return {
    file: 'sr.dcm',
    kind: 'sr',
    sopClassUid: dataset.SOPClassUID as string,
    ...ids,
    levels: ctx.result.levels.map((l, i) => ({
      level: l.level,
      trackingUid: groups[i].group.trackingUid,
      segment: groups[i].segment,
    })),
    bytes: writePart10(dataset),
  };
}

function measurementGroup(
  ctx: Context,
  l: LevelFinding,
  segs: BuiltSeg[],
): { group: SrMeasurementGroup; segment: { file: string; segmentNumber: number } | null } {
  const { finding, position } = diagnosisCodes(l.diagnosis);
  const sag = l.evidence.sagittal ? [{ source: ctx.source(l.evidence.sagittal.sopInstanceUid) }] : [];
  const axial: SrImageRef[] = l.evidence.axial.map((a) => ({
    source: ctx.source(a.sopInstanceUid),
    frame: a.frame,
  }));
  const measurements: SrMeasurement[] = [];
  if (AXIAL_CLASSES.some((c) => l.probabilities[c] > 0)) {
    for (const c of AXIAL_CLASSES) {
      const value = l.probabilities[c];
      measurements.push({
        name: PROBABILITY_CODES[c],
        value,
        unit: CODES.noUnits,
        sources: [...sag, ...axial],
      });
    }
  }
  const p = l.evidence.sagittal?.herniationProbability;
  if (p !== null && p !== undefined) {
    measurements.push({
      name: CODES.sagittalHerniationProbability,
      value: p,
      unit: CODES.noUnits,
      sources: sag,
    });
  }
  // the segment the classification looked at: axial when there is one, else the sagittal one
  const cited = (['axial', 'sagittal'] as const)
    .flatMap((view) => segs.filter((s) => s.view === view))
    .map((s) => ({ s, w: s.written.find((w) => w.label === discLabel(l.level)) }))
    .find((x) => x.w);
  return {
    group: {
      trackingId: `${l.level} disc`,
      trackingUid: ctx.trackingUid(l.level),
      finding,
      findingSite: DISC_CODES[l.level],
      evaluations: position ? [position] : [],
      measurements,
      segment: cited
        ? {
            sopClassUid: cited.s.sopClassUid,
            sopInstanceUid: cited.s.sopInstanceUid,
            seriesInstanceUid: cited.s.seriesInstanceUid,
            segmentNumber: cited.w!.segmentNumber,
            sources: cited.w!.sources,
          }
        : null,
      comment: l.reason,
    },
    segment: cited ? { file: cited.s.file, segmentNumber: cited.w!.segmentNumber } : null,
  };
}
