import { ImagePlane, Vec3, norm } from './geometry';
import type { Dataset } from './write';

/**
 * Per-frame attributes of multi-frame (Enhanced MR) objects live in functional group macros: first the
 * frame's item of PerFrameFunctionalGroupsSequence, else the SharedFunctionalGroupsSequence item
 * (PS3.3 C.7.6.16). dcmjs naturalizes every sequence as an array of items.
 */
export function functionalGroup(ds: Dataset, frame: number, macro: string): Dataset | undefined {
  const item = (seq: unknown, i: number): Dataset | undefined =>
    Array.isArray(seq) && seq[i] && typeof seq[i] === 'object' ? (seq[i] as Dataset) : undefined;
  const inner = (group: Dataset | undefined) => item(group?.[macro], 0);
  return (
    inner(item(ds.PerFrameFunctionalGroupsSequence, frame)) ??
    inner(item(ds.SharedFunctionalGroupsSequence, 0))
  );
}

export const isEnhanced = (ds: Dataset): boolean =>
  Array.isArray(ds.PerFrameFunctionalGroupsSequence) || Array.isArray(ds.SharedFunctionalGroupsSequence);

/** The numbers of a multi-valued attribute (dcmjs gives DS/IS as numbers, sometimes as strings). */
export function numbers(v: unknown): number[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : String(v).split('\\')).map((x) => Number(x));
}

/** A finite number from a single-valued attribute, or undefined. */
export function number(v: unknown): number | undefined {
  const [x] = numbers(v);
  return x !== undefined && Number.isFinite(x) ? x : undefined;
}

/** The plane of one frame, or null when its position, orientation or spacing is missing or unusable. */
export function framePlane(ds: Dataset, frame: number, rows: number, columns: number): ImagePlane | null {
  const enhanced = isEnhanced(ds);
  const pick = (macro: string, key: string): unknown =>
    (enhanced ? functionalGroup(ds, frame, macro)?.[key] : undefined) ?? ds[key];
  const ipp = numbers(pick('PlanePositionSequence', 'ImagePositionPatient'));
  const iop = numbers(pick('PlaneOrientationSequence', 'ImageOrientationPatient'));
  const ps = numbers(pick('PixelMeasuresSequence', 'PixelSpacing'));
  if (ipp.length !== 3 || iop.length !== 6 || ps.length !== 2) return null;
  if ([...ipp, ...iop, ...ps].some((x) => !Number.isFinite(x)) || ps[0] <= 0 || ps[1] <= 0) return null;
  const row = iop.slice(0, 3) as unknown as Vec3;
  const col = iop.slice(3, 6) as unknown as Vec3;
  if (Math.abs(norm(row) - 1) > 0.01 || Math.abs(norm(col) - 1) > 0.01) return null;
  return { position: ipp as unknown as Vec3, row, col, spacing: [ps[0], ps[1]], rows, columns };
}

/** Modality rescale of one frame (PixelValueTransformationSequence for enhanced objects). */
export function frameRescale(ds: Dataset, frame: number): { slope: number; intercept: number } {
  const group = isEnhanced(ds) ? functionalGroup(ds, frame, 'PixelValueTransformationSequence') : undefined;
  const slope = number(group?.RescaleSlope ?? ds.RescaleSlope);
  const intercept = number(group?.RescaleIntercept ?? ds.RescaleIntercept);
  return { slope: slope === undefined || slope === 0 ? 1 : slope, intercept: intercept ?? 0 };
}

/** EchoTime in ms: the classic attribute, else the first frame's MREchoSequence EffectiveEchoTime. */
export function echoTime(ds: Dataset): number | undefined {
  return number(ds.EchoTime) ?? number(functionalGroup(ds, 0, 'MREchoSequence')?.EffectiveEchoTime);
}

/** RepetitionTime in ms: the classic attribute, else MRTimingAndRelatedParametersSequence. */
export function repetitionTime(ds: Dataset): number | undefined {
  return (
    number(ds.RepetitionTime) ??
    number(functionalGroup(ds, 0, 'MRTimingAndRelatedParametersSequence')?.RepetitionTime)
  );
}

/** SliceThickness in mm of one frame (PixelMeasuresSequence for enhanced objects), or undefined. */
export function sliceThickness(ds: Dataset, frame: number): number | undefined {
  const group = isEnhanced(ds) ? functionalGroup(ds, frame, 'PixelMeasuresSequence') : undefined;
  const t = number(group?.SliceThickness ?? ds.SliceThickness);
  return t !== undefined && t > 0 ? t : undefined;
}
