import { InputError } from '@lumbar/core';
import { Code, CODES, codeItem } from './codes';
import { rgbToDicomLab } from './colour';
import { DerivedIds, derivedCommon, sameStudy, withCharacterSet } from './derived';
import type { ImagePlane } from './geometry';
import { SourceImage, imageReference, referencedSeries } from './source-image';
import { deterministicUid } from './uid';
import { Dataset, ds } from './write';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

/** A label map over one source frame, in its stored orientation: 0 background, other values = labels. */
export interface LabelMap {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

export interface SegFrame {
  source: SourceImage;
  /** 0-based frame of the source instance. */
  frame: number;
  labels: LabelMap;
}

/** One segment: the label value it takes from the label maps and how it is coded. */
export interface SegmentDefinition {
  label: number;
  segmentLabel: string;
  description: string;
  category: Code;
  type: Code;
  trackingId?: string;
  trackingUid?: string;
  /** sRGB 0-255, written as RecommendedDisplayCIELabValue. */
  colour?: readonly [number, number, number];
}

export interface SegmentationInput {
  frames: SegFrame[];
  segments: SegmentDefinition[];
  algorithm: { name: string; version: string; parameters?: string };
  ids: DerivedIds;
  createdAt: Date;
  /** ContentDescription (LO, 64 characters at most). */
  contentDescription: string;
}

export interface WrittenSegment {
  segmentNumber: number;
  label: number;
  /** The source frames the segment has pixels on, in frame order. */
  sources: Array<{ source: SourceImage; frame: number }>;
}

/**
 * A DICOM Segmentation (BINARY) of label maps over frames of one source series: one segment per label
 * present (numbered 1..n in the order of `segments`), one SEG frame per (segment, source frame) that has
 * pixels of it. Returns null when no label has any pixel (a SEG needs one segment at least).
 */
export function segmentationDataset(
  input: SegmentationInput,
): { dataset: Dataset; segments: WrittenSegment[] } | null {
  const first = checkFrames(input.frames);
  const written: WrittenSegment[] = [];
  const masks: Uint8Array[] = [];
  const perFrame: Dataset[] = [];
  const hitsOf = input.segments
    .map((seg) => ({ seg, hits: input.frames.filter((f) => has(f.labels, seg.label)) }))
    .filter((x) => x.hits.length > 0);
  // dimension index of a source slice: its rank among the slices that have pixels of any segment
  const used = input.frames.filter((f) => hitsOf.some((x) => x.hits.includes(f)));
  const positionIndex = new Map(used.map((f, i) => [key(f), i + 1]));
  for (const { seg, hits } of hitsOf) {
    const segmentNumber = written.length + 1;
    written.push({
      segmentNumber,
      label: seg.label,
      sources: hits.map((f) => ({ source: f.source, frame: f.frame })),
    });
    for (const f of hits) {
      masks.push(binary(f.labels, seg.label));
      perFrame.push(frameGroups(f, segmentNumber, positionIndex.get(key(f))!));
    }
  }
  if (written.length === 0) return null;
  const frameGeometry = written.flatMap((w) => w.sources.map((s) => s.source.planes[s.frame]!));
  const shared: Dataset = {};
  const orientation = (p: ImagePlane) => ({ ImageOrientationPatient: [...p.row, ...p.col].map(ds) });
  const measures = (p: ImagePlane, t: number | null) => ({
    PixelSpacing: p.spacing.map(ds),
    ...(t ? { SliceThickness: ds(t) } : {}),
  });
  shareOrSplit(shared, perFrame, 'PlaneOrientationSequence', frameGeometry.map(orientation));
  const thickness = written.flatMap((w) => w.sources.map((s) => s.source.sliceThickness));
  shareOrSplit(
    shared,
    perFrame,
    'PixelMeasuresSequence',
    frameGeometry.map((p, i) => measures(p, thickness[i])),
  );
  const dimensionUid = deterministicUid(input.ids.sopInstanceUid, 'dimension-organization');
  const dataset: Dataset = {
    ...derivedCommon(first.source, {
      sopClassUid: SEGMENTATION_STORAGE,
      modality: 'SEG',
      ids: input.ids,
      createdAt: input.createdAt,
      softwareVersions: `${input.algorithm.name} ${input.algorithm.version}`,
    }),
    ImageType: ['DERIVED', 'PRIMARY'],
    ReferencedSeriesSequence: referencedSeries(
      used.map((f) => f.source),
      'ReferencedInstanceSequence',
    ),
    FrameOfReferenceUID: first.source.frameOfReferenceUid,
    PositionReferenceIndicator: '',
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionUid }],
    DimensionIndexSequence: [
      dimension(dimensionUid, 0x0062000b, 0x0062000a, 'Referenced Segment Number'),
      dimension(dimensionUid, 0x00200032, 0x00209113, 'Image Position Patient'),
    ],
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    NumberOfFrames: String(masks.length),
    Rows: first.source.rows,
    Columns: first.source.columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    SegmentsOverlap: 'NO',
    SegmentSequence: written.map((w) => segmentItem(input, w)),
    ContentLabel: 'LUMBAR_DISCS',
    ContentDescription: input.contentDescription.slice(0, 64),
    ContentCreatorName: '',
    SharedFunctionalGroupsSequence: [shared],
    PerFrameFunctionalGroupsSequence: perFrame,
    PixelData: [packBits(masks, first.source.rows * first.source.columns)],
    _vrMap: { PixelData: 'OB' },
  };
  return { dataset: withCharacterSet(dataset), segments: written };
}

const key = (f: SegFrame) => `${f.source.sopInstanceUid}#${f.frame}`;

function has(m: LabelMap, label: number): boolean {
  for (let i = 0; i < m.data.length; i++) if (m.data[i] === label) return true;
  return false;
}

function binary(m: LabelMap, label: number): Uint8Array {
  const out = new Uint8Array(m.data.length);
  for (let i = 0; i < m.data.length; i++) out[i] = m.data[i] === label ? 1 : 0;
  return out;
}

/** The frames must share one study, Frame of Reference and matrix, have geometry and fit their source. */
function checkFrames(frames: readonly SegFrame[]): SegFrame {
  if (frames.length === 0) throw new InputError('a segmentation needs at least one source frame');
  sameStudy(frames.map((f) => f.source));
  const first = frames[0];
  for (const f of frames) {
    const s = f.source;
    const where = `${s.sopInstanceUid} frame ${f.frame + 1}`;
    if (!s.frameOfReferenceUid) throw new InputError(`${where}: no FrameOfReferenceUID`);
    if (s.frameOfReferenceUid !== first.source.frameOfReferenceUid) {
      throw new InputError(`${where}: another Frame of Reference than the first frame's`);
    }
    if (s.rows !== first.source.rows || s.columns !== first.source.columns) {
      throw new InputError(
        `${where}: ${s.rows}x${s.columns}, the first frame is ${first.source.rows}x${first.source.columns}`,
      );
    }
    if (
      f.labels.width !== s.columns ||
      f.labels.height !== s.rows ||
      f.labels.data.length !== s.rows * s.columns
    ) {
      throw new InputError(
        `${where}: label map ${f.labels.width}x${f.labels.height} does not fit ${s.columns}x${s.rows}`,
      );
    }
    if (!s.planes[f.frame]) throw new InputError(`${where}: no plane geometry`);
  }
  return first;
}

function frameGroups(f: SegFrame, segmentNumber: number, position: number): Dataset {
  const p = f.source.planes[f.frame]!;
  return {
    DerivationImageSequence: [
      {
        SourceImageSequence: [
          {
            ...imageReference(f.source, f.frame),
            PurposeOfReferenceCodeSequence: [codeItem(CODES.sourceImageForProcessing)],
            SpatialLocationsPreserved: 'YES',
          },
        ],
        DerivationCodeSequence: [codeItem(CODES.segmentation)],
      },
    ],
    FrameContentSequence: [{ DimensionIndexValues: [segmentNumber, position] }],
    PlanePositionSequence: [{ ImagePositionPatient: p.position.map(ds) }],
    SegmentIdentificationSequence: [{ ReferencedSegmentNumber: segmentNumber }],
  };
}

/** Puts a functional group macro in the shared item when every frame has the same value, else per frame. */
function shareOrSplit(shared: Dataset, perFrame: Dataset[], macro: string, values: Dataset[]): void {
  const same = values.every((v) => JSON.stringify(v) === JSON.stringify(values[0]));
  if (same) shared[macro] = [values[0]];
  else values.forEach((v, i) => (perFrame[i][macro] = [v]));
}

function dimension(uid: string, pointer: number, group: number, label: string): Dataset {
  return {
    DimensionOrganizationUID: uid,
    DimensionIndexPointer: pointer,
    FunctionalGroupPointer: group,
    DimensionDescriptionLabel: label,
    _vrMap: { DimensionIndexPointer: 'AT', FunctionalGroupPointer: 'AT' },
  };
}

function segmentItem(input: SegmentationInput, w: WrittenSegment): Dataset {
  const seg = input.segments.find((s) => s.label === w.label)!;
  const { name, version, parameters } = input.algorithm;
  return {
    SegmentNumber: w.segmentNumber,
    SegmentLabel: seg.segmentLabel.slice(0, 64),
    SegmentDescription: seg.description,
    SegmentAlgorithmType: 'AUTOMATIC',
    SegmentAlgorithmName: name,
    SegmentationAlgorithmIdentificationSequence: [
      {
        AlgorithmFamilyCodeSequence: [codeItem(CODES.artificialIntelligence)],
        AlgorithmName: name,
        AlgorithmVersion: version,
        ...(parameters ? { AlgorithmParameters: parameters } : {}),
      },
    ],
    SegmentedPropertyCategoryCodeSequence: [codeItem(seg.category)],
    SegmentedPropertyTypeCodeSequence: [codeItem(seg.type)],
    ...(seg.trackingUid
      ? { TrackingID: seg.trackingId ?? seg.segmentLabel, TrackingUID: seg.trackingUid }
      : {}),
    ...(seg.colour ? { RecommendedDisplayCIELabValue: rgbToDicomLab(seg.colour) } : {}),
  };
}

/** BINARY pixel data: one bit per pixel, frames back to back without padding, first pixel in bit 0. */
export function packBits(frames: readonly Uint8Array[], pixelsPerFrame: number): ArrayBuffer {
  const bits = frames.length * pixelsPerFrame;
  const out = new Uint8Array(Math.ceil(bits / 8) + (Math.ceil(bits / 8) % 2));
  let i = 0;
  for (const f of frames) {
    for (let k = 0; k < pixelsPerFrame; k++, i++) if (f[k]) out[i >> 3] |= 1 << (i & 7);
  }
  return out.buffer;
}
