import { InputError } from '@lumbar/core';
import { echoTime, framePlane, number, repetitionTime, sliceThickness } from './frame-meta';
import type { ImagePlane } from './geometry';
import { transferSyntaxUid } from './pixel-module';
import type { Dataset } from './write';

/** What grouping and series selection need to know about one instance, without its pixels. */
export interface InstanceHeader {
  /** Where it came from (a path, or any name the caller gave). */
  file: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  modality: string;
  seriesNumber: number | null;
  instanceNumber: number | null;
  seriesDescription: string;
  protocolName: string;
  imageType: string[];
  /** Milliseconds; for enhanced objects from the functional groups. */
  echoTime: number | null;
  repetitionTime: number | null;
  rows: number;
  columns: number;
  frames: number;
  /** One per frame; null where the frame has no usable geometry. */
  planes: Array<ImagePlane | null>;
  /** SliceThickness (mm) of the first frame, null when absent. */
  sliceThickness: number | null;
  hasPixelData: boolean;
  transferSyntaxUid: string;
}

const text = (v: unknown): string =>
  (Array.isArray(v) ? v.join('\\') : String(v ?? '')).replace(/\0/g, '').trim();

/** Reads the header of a dataset (readPart10, with or without headerOnly); the UIDs are required. */
export function instanceHeader(ds: Dataset, file: string): InstanceHeader {
  const uid = (key: string): string => {
    const v = text(ds[key]);
    if (!v) throw new InputError(`${file}: no ${key}`, { file });
    return v;
  };
  const rows = number(ds.Rows) ?? 0;
  const columns = number(ds.Columns) ?? 0;
  const frames = Math.max(1, Math.min(100000, Math.floor(number(ds.NumberOfFrames) ?? 1)));
  return {
    file,
    studyInstanceUid: uid('StudyInstanceUID'),
    seriesInstanceUid: uid('SeriesInstanceUID'),
    sopInstanceUid: uid('SOPInstanceUID'),
    sopClassUid: text(ds.SOPClassUID),
    modality: text(ds.Modality).toUpperCase(),
    seriesNumber: number(ds.SeriesNumber) ?? null,
    instanceNumber: number(ds.InstanceNumber) ?? null,
    seriesDescription: text(ds.SeriesDescription),
    protocolName: text(ds.ProtocolName),
    imageType: text(ds.ImageType)
      .split('\\')
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean),
    echoTime: echoTime(ds) ?? null,
    repetitionTime: repetitionTime(ds) ?? null,
    rows,
    columns,
    frames,
    planes: Array.from({ length: frames }, (_, i) => framePlane(ds, i, rows, columns)),
    sliceThickness: sliceThickness(ds, 0) ?? null,
    hasPixelData: ds._hasPixelData === true || ds.PixelData !== undefined,
    transferSyntaxUid: transferSyntaxUid(ds),
  };
}
