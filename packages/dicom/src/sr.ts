import { Code, CODES, isPrivate, privateSchemeItem } from './codes';
import { DerivedIds, derivedCommon, sameStudy, withCharacterSet } from './derived';
import { SourceImage, referencedSeries } from './source-image';
import { codeValueItem, container, imageItem, numItem, scoordItem, textItem, uidItem } from './sr-content';
import type { Dataset } from './write';

export const COMPREHENSIVE_SR_STORAGE = '1.2.840.10008.5.1.4.1.1.88.33';

/** An image (and 0-based frame of a multi-frame image) the report cites. */
export interface SrImageRef {
  source: SourceImage;
  frame?: number;
}

/** A segment of a DICOM SEG the report cites, with the source frames it was computed on. */
export interface SrSegmentRef {
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  segmentNumber: number;
  sources: SrImageRef[];
}

export interface SrMeasurement {
  name: Code;
  value: number;
  unit: Code;
  /** Measurement Method (TID 300 HAS CONCEPT MOD), e.g. the grading system of a grade. */
  method?: Code;
  sources: SrImageRef[];
  /**
   * TID 300 INFERRED FROM a SCOORD (TID 320): the region measured, a polyline (x0, y0, x1, y1, ...; closed:
   * the first point repeated) in the pixel coordinates of one image.
   */
  region?: { image: SrImageRef; points: number[] };
}

/** One TID 1501 measurement group: TID 1411 when it cites a segment, plain TID 1501 otherwise. */
export interface SrMeasurementGroup {
  trackingId: string;
  trackingUid: string;
  finding: Code;
  findingSite: Code;
  evaluations: Array<{ name: Code; value: Code }>;
  measurements: SrMeasurement[];
  segment: SrSegmentRef | null;
  comment?: string | null;
  /** The algorithm that produced this group (TID 4019), when it is not the report's own. */
  algorithm?: MeasurementReportInput['algorithm'];
}

export interface MeasurementReportInput {
  /** The image library: every source image the report is about. */
  sources: SourceImage[];
  groups: SrMeasurementGroup[];
  summary: string;
  disclaimer: string;
  observer: { uid: string; name: string; manufacturer: string; modelName: string };
  algorithm: { name: string; version: string; parameters?: string };
  procedure: Code;
  ids: DerivedIds;
  createdAt: Date;
}

/**
 * A Comprehensive SR following TID 1500 (Imaging Measurement Report): language, device observer, procedure
 * reported, image library, one measurement group per finding, and a Qualitative Evaluations container
 * with the summary and the intended-use statement.
 */
export function measurementReportDataset(input: MeasurementReportInput): Dataset {
  const study = sameStudy(input.sources);
  const { observer: o, algorithm: a } = input;
  const content = [
    codeValueItem('HAS CONCEPT MOD', CODES.language, CODES.englishUS),
    codeValueItem('HAS OBS CONTEXT', CODES.observerType, CODES.device),
    uidItem('HAS OBS CONTEXT', CODES.deviceObserverUid, o.uid),
    textItem('HAS OBS CONTEXT', CODES.deviceObserverName, o.name),
    textItem('HAS OBS CONTEXT', CODES.deviceObserverManufacturer, o.manufacturer),
    textItem('HAS OBS CONTEXT', CODES.deviceObserverModelName, o.modelName),
    codeValueItem('HAS CONCEPT MOD', CODES.procedureReported, input.procedure),
    imageLibrary(input.sources),
    container(
      'CONTAINS',
      CODES.imagingMeasurements,
      input.groups.map((g) => measurementGroup(g, a)),
    ),
    container('CONTAINS', CODES.qualitativeEvaluations, [
      textItem('CONTAINS', CODES.summary, input.summary),
      textItem('CONTAINS', CODES.disclaimer, input.disclaimer),
    ]),
  ];
  const codes = usedCodes(input);
  return withCharacterSet({
    ...derivedCommon(study, {
      sopClassUid: COMPREHENSIVE_SR_STORAGE,
      modality: 'SR',
      ids: input.ids,
      createdAt: input.createdAt,
      softwareVersions: `${a.name} ${a.version}`,
    }),
    ...(codes.some(isPrivate) ? { CodingSchemeIdentificationSequence: [privateSchemeItem()] } : {}),
    ReferencedPerformedProcedureStepSequence: [],
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    PreliminaryFlag: 'PRELIMINARY',
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: [
      {
        StudyInstanceUID: study.studyInstanceUid,
        ReferencedSeriesSequence: referencedSeries(evidence(input), 'ReferencedSOPSequence'),
      },
    ],
    ...container(null, CODES.imagingMeasurementReport, content, '1500'),
  });
}

function imageLibrary(sources: readonly SourceImage[]): Dataset {
  const bySeries = new Map<string, SourceImage[]>();
  for (const s of sources)
    bySeries.set(s.seriesInstanceUid, [...(bySeries.get(s.seriesInstanceUid) ?? []), s]);
  const groups = [...bySeries.values()].map((images) =>
    container(
      'CONTAINS',
      CODES.imageLibraryGroup,
      images.map((s) =>
        imageItem('CONTAINS', CODES.source, s, [
          codeValueItem('HAS ACQ CONTEXT', CODES.modality, modalityCode(s.modality)),
          ...(s.frameOfReferenceUid
            ? [uidItem('HAS ACQ CONTEXT', CODES.frameOfReferenceUid, s.frameOfReferenceUid)]
            : []),
          numItem('HAS ACQ CONTEXT', CODES.pixelDataRows, s.rows, PIXELS),
          numItem('HAS ACQ CONTEXT', CODES.pixelDataColumns, s.columns, PIXELS),
        ]),
      ),
    ),
  );
  return container('CONTAINS', CODES.imageLibrary, groups);
}

const PIXELS: Code = { value: '{pixels}', scheme: 'UCUM', meaning: 'pixels' };

function modalityCode(modality: string): Code {
  return modality === 'MR' ? CODES.magneticResonance : { value: modality, scheme: 'DCM', meaning: modality };
}

const imageRef = (r: SrImageRef) => ({
  sopClassUid: r.source.sopClassUid,
  sopInstanceUid: r.source.sopInstanceUid,
  ...(r.source.frames > 1 ? { frameNumber: (r.frame ?? 0) + 1 } : {}),
});

function measurementGroup(g: SrMeasurementGroup, report: MeasurementReportInput['algorithm']): Dataset {
  const a = g.algorithm ?? report;
  const items = [
    textItem('HAS OBS CONTEXT', CODES.trackingIdentifier, g.trackingId),
    uidItem('HAS OBS CONTEXT', CODES.trackingUid, g.trackingUid),
    codeValueItem('CONTAINS', CODES.finding, g.finding),
    codeValueItem('HAS CONCEPT MOD', CODES.findingSite, g.findingSite),
    textItem('HAS CONCEPT MOD', CODES.algorithmName, a.name),
    textItem('HAS CONCEPT MOD', CODES.algorithmVersion, a.version),
    ...(a.parameters ? [textItem('HAS CONCEPT MOD', CODES.algorithmParameters, a.parameters)] : []),
    ...(g.segment
      ? [
          imageItem('CONTAINS', CODES.referencedSegment, { ...g.segment }),
          ...g.segment.sources.map((s) =>
            imageItem('CONTAINS', CODES.sourceImageForSegmentation, imageRef(s)),
          ),
        ]
      : []),
    ...g.measurements.map((m) =>
      numItem('CONTAINS', m.name, m.value, m.unit, [
        ...(m.method ? [codeValueItem('HAS CONCEPT MOD', CODES.measurementMethod, m.method)] : []),
        ...(m.region
          ? [scoordItem('INFERRED FROM', CODES.imageRegion, m.region.points, imageRef(m.region.image))]
          : []),
        ...m.sources.map((s) => imageItem('INFERRED FROM', CODES.sourceOfMeasurement, imageRef(s))),
      ]),
    ),
    ...g.evaluations.map((e) => codeValueItem('CONTAINS', e.name, e.value)),
    ...(g.comment ? [textItem('CONTAINS', CODES.comment, g.comment)] : []),
  ];
  return container('CONTAINS', CODES.measurementGroup, items, g.segment ? '1411' : '1501');
}

/** Every instance the content tree references, for CurrentRequestedProcedureEvidenceSequence. */
function evidence(input: MeasurementReportInput) {
  const refs: Array<{ seriesInstanceUid: string; sopClassUid: string; sopInstanceUid: string }> = [
    ...input.sources,
  ];
  for (const g of input.groups) {
    if (g.segment) refs.push(g.segment, ...g.segment.sources.map((s) => s.source));
    for (const m of g.measurements) if (m.region) refs.push(m.region.image.source);
    for (const m of g.measurements) refs.push(...m.sources.map((s) => s.source));
  }
  return refs;
}

function usedCodes(input: MeasurementReportInput): Code[] {
  return [
    input.procedure,
    ...input.groups.flatMap((g) => [
      g.finding,
      g.findingSite,
      ...g.evaluations.flatMap((e) => [e.name, e.value]),
      ...g.measurements.flatMap((m) => [m.name, m.unit, ...(m.method ? [m.method] : [])]),
    ]),
    CODES.disclaimer,
  ];
}
