import { ALGORITHM, AXIAL_CLASSES, DISC_LEVELS, discLabel, type DiscLevel } from '@lumbar/core';
import {
  CODES,
  DISC_CODES,
  GRADING_CODES,
  PROBABILITY_CODES,
  deterministicUid,
  diagnosisCodes,
  gradingCodes,
  measurementReportDataset,
  writePart10,
  type SourceImage,
  type SrImageRef,
  type SrMeasurement,
  type SrMeasurementGroup,
} from '@lumbar/dicom';
import type { DiscGrading, LevelFinding } from '@lumbar/pipeline';
import { SERIES_NUMBERS, type BuiltSeg, type Context, type DicomOutput } from './context';
import { outline } from './outline';

/**
 * The tracking identifier of the disc outlines: a free-text identifier (TID 1501) that Cornerstone3D's SR
 * adapters, as OHIF uses them, take for a closed freehand contour, so a viewer draws each outline on the
 * sagittal slice it was found on. The level follows, for a reader.
 */
export const OUTLINE_TRACKING_ID = 'Cornerstone3DTools@^0.1.0:PlanarFreehandROI';

/** Where the grader's numbers come from, said in each grading group (the SR has no other place for it). */
export const GRADING_SOURCE =
  "Sagittal grader on the mid-sagittal slice, learnt from the SPIDER data set's radiological grades " +
  '(van der Graaf et al., Scientific Data 11, 2024; CC BY 4.0). Present/absent compares the probability ' +
  "with the model's threshold.";

/**
 * The TID 1500 report: one measurement group per reported level, citing its segment and source images,
 * then one group per disc the sagittal grader graded (top down), with that model as its algorithm.
 */
export function report(ctx: Context, segs: BuiltSeg[], sources: SourceImage[]): DicomOutput {
  const ids = ctx.uids('sr', 'sr');
  const groups = ctx.result.levels.map((l) => measurementGroup(ctx, l, segs));
  // findings stored before the grader existed have no `gradings`
  const graded = [...(ctx.result.gradings ?? [])].sort(
    (a, b) => DISC_LEVELS.indexOf(a.level) - DISC_LEVELS.indexOf(b.level),
  );
  const gradingGroups = graded.map((g) => gradingGroup(ctx, g, segs));
  const outlines = outlineGroups(ctx);
  const dataset = measurementReportDataset({
    sources,
    groups: [...groups, ...gradingGroups].map((g) => g.group).concat(outlines),
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
    gradings: graded.map((g, i) => ({
      level: g.level,
      trackingUid: gradingGroups[i].group.trackingUid,
      segment: gradingGroups[i].segment,
    })),
    bytes: writePart10(dataset),
  };
}

type CitedSegment = {
  group: SrMeasurementGroup['segment'];
  segment: { file: string; segmentNumber: number } | null;
};

/** The segment of a level in the first SEG of the given views that has one. */
function citedSegment(segs: BuiltSeg[], level: DiscLevel, views: Array<'axial' | 'sagittal'>): CitedSegment {
  const cited = views
    .flatMap((view) => segs.filter((s) => s.view === view))
    .map((s) => ({ s, w: s.written.find((w) => w.label === discLabel(level)) }))
    .find((x) => x.w);
  if (!cited) return { group: null, segment: null };
  return {
    group: {
      sopClassUid: cited.s.sopClassUid,
      sopInstanceUid: cited.s.sopInstanceUid,
      seriesInstanceUid: cited.s.seriesInstanceUid,
      segmentNumber: cited.w!.segmentNumber,
      sources: cited.w!.sources,
    },
    segment: { file: cited.s.file, segmentNumber: cited.w!.segmentNumber },
  };
}

/**
 * One graded disc: the degeneration grade, the grader's probabilities and its present/absent flags, each
 * inferred from the graded slice; the algorithm is the grader model (name and version), and the group
 * cites the disc's sagittal segment and shares the level's tracking UID.
 */
function gradingGroup(
  ctx: Context,
  g: DiscGrading & { level: DiscLevel },
  segs: BuiltSeg[],
): { group: SrMeasurementGroup; segment: { file: string; segmentNumber: number } | null } {
  const slice = [{ source: ctx.source(g.sopInstanceUid) }];
  const coded = gradingCodes(g);
  const cited = citedSegment(segs, g.level, ['sagittal', 'axial']);
  return {
    group: {
      trackingId: `${g.level} disc`,
      trackingUid: ctx.trackingUid(g.level),
      finding: GRADING_CODES.finding,
      findingSite: DISC_CODES[g.level],
      evaluations: coded.evaluations,
      measurements: coded.measurements.map((m) => ({ ...m, sources: slice })),
      segment: cited.group,
      comment: GRADING_SOURCE,
      algorithm: { name: g.model.name, version: g.model.version },
    },
    segment: cited.segment,
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
  const cited = citedSegment(segs, l.level, ['axial', 'sagittal']);
  return {
    group: {
      trackingId: `${l.level} disc`,
      trackingUid: ctx.trackingUid(l.level),
      finding,
      findingSite: DISC_CODES[l.level],
      evaluations: position ? [position] : [],
      measurements,
      segment: cited.group,
      comment: l.reason,
    },
    segment: cited.segment,
  };
}

/**
 * One group per disc the sagittal segmentation found (top down): its area on that slice (findings.json's
 * `discs[].areaMm2`), INFERRED FROM its outline there (a closed POLYLINE along the mask's pixel edges), with
 * the level's tracking UID; the finding is the level's diagnosis where a level was reported, else the disc
 * itself. A viewer draws these outlines without reading the SEG.
 */
function outlineGroups(ctx: Context): SrMeasurementGroup[] {
  const sag = ctx.result.masks.find((m) => m.view === 'sagittal');
  const maps = sag ? Object.values(sag.levels) : [];
  if (!sag || maps.length === 0) return [];
  const { width, height } = maps[0];
  const image: SrImageRef = { source: ctx.source(sag.sopInstanceUid), frame: sag.frame };
  const discs = [...ctx.result.discs].sort(
    (a, b) => DISC_LEVELS.indexOf(a.level) - DISC_LEVELS.indexOf(b.level),
  );
  return discs.flatMap(({ level, areaMm2 }) => {
    const label = discLabel(level);
    const data = new Uint8Array(width * height);
    for (const m of maps) for (let i = 0; i < data.length; i++) if (m.data[i] === label) data[i] = 1;
    const points = outline({ width, height, data });
    if (points.length === 0) return [];
    const reported = ctx.result.levels.find((l) => l.level === level);
    return [
      {
        trackingId: `${OUTLINE_TRACKING_ID}:${level} disc outline`,
        trackingUid: ctx.trackingUid(level),
        finding: reported ? diagnosisCodes(reported.diagnosis).finding : DISC_CODES[level],
        findingSite: DISC_CODES[level],
        evaluations: [],
        measurements: [
          {
            name: CODES.area,
            value: areaMm2,
            unit: CODES.squareMillimetre,
            sources: [],
            region: { image, points },
          },
        ],
        segment: null,
      },
    ];
  });
}
