import { ALGORITHM, InputError } from '@lumbar/core';
import type { SourceImage } from './source-image';
import { deterministicUid } from './uid';
import { Dataset, da, tm } from './write';

/** Where a derived object goes: its series and its place in it. */
export interface DerivedIds {
  seriesInstanceUid: string;
  sopInstanceUid: string;
  seriesNumber: number;
  instanceNumber: number;
  seriesDescription: string;
}

/**
 * Series and SOP Instance UIDs of a derived object, from the study, the algorithm (name, version and the
 * versions of its models) and the kind of object: a re-run or a re-sent export carries the same UIDs, so a
 * PACS keeps one copy. `series` names the series the object belongs to (several objects may share one).
 */
export function derivedUids(
  studyInstanceUid: string,
  algorithmId: string,
  series: string,
  instance: string,
): { seriesInstanceUid: string; sopInstanceUid: string } {
  return {
    seriesInstanceUid: deterministicUid(studyInstanceUid, algorithmId, 'series', series),
    sopInstanceUid: deterministicUid(studyInstanceUid, algorithmId, 'instance', series, instance),
  };
}

/** The identity of the algorithm for UIDs: its name and version and the name@version of each model. */
export function algorithmId(models: Record<string, { name: string; version: string }> = {}): string {
  const m = Object.keys(models)
    .sort()
    .map((k) => `${k}=${models[k].name}@${models[k].version}`);
  return [`${ALGORITHM.name}@${ALGORITHM.version}`, ...m].join(';');
}

/** LO values are at most 64 characters. */
export const lo = (s: string): string => s.replace(/\\/g, '/').slice(0, 64);

/** The one study the sources belong to; an error when they span several (a derived object has one study). */
export function sameStudy(sources: readonly SourceImage[]): SourceImage {
  if (sources.length === 0) throw new InputError('a derived object needs at least one source image');
  const uids = new Set(sources.map((s) => s.studyInstanceUid));
  if (uids.size > 1) throw new InputError(`source images span ${uids.size} studies`);
  return sources[0];
}

/**
 * Attributes every derived object shares: SOP Common, Patient, General Study (copied from the source),
 * General Series, General Equipment and Enhanced General Equipment (the algorithm as the device).
 */
export function derivedCommon(
  source: SourceImage,
  o: { sopClassUid: string; modality: string; ids: DerivedIds; createdAt: Date; softwareVersions?: string },
): Dataset {
  const { ids, createdAt } = o;
  return {
    SpecificCharacterSet: 'ISO_IR 100', // set from the content by withCharacterSet
    InstanceCreationDate: da(createdAt),
    InstanceCreationTime: tm(createdAt),
    SOPClassUID: o.sopClassUid,
    SOPInstanceUID: ids.sopInstanceUid,
    ...source.patientStudy,
    Modality: o.modality,
    SeriesInstanceUID: ids.seriesInstanceUid,
    SeriesNumber: String(ids.seriesNumber),
    SeriesDate: da(createdAt),
    SeriesTime: tm(createdAt),
    SeriesDescription: lo(ids.seriesDescription),
    InstanceNumber: String(ids.instanceNumber),
    ContentDate: da(createdAt),
    ContentTime: tm(createdAt),
    Manufacturer: ALGORITHM.manufacturer,
    ManufacturerModelName: ALGORITHM.name,
    DeviceSerialNumber: `${ALGORITHM.name}-${ALGORITHM.version}`,
    SoftwareVersions: lo(o.softwareVersions ?? `${ALGORITHM.name} ${ALGORITHM.version}`),
  };
}

function hasNonAscii(v: unknown): boolean {
  if (typeof v === 'string') return /[^ -~\t\n\r]/.test(v);
  if (Array.isArray(v)) return v.some(hasNonAscii);
  if (v && typeof v === 'object' && !ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer)) {
    return Object.values(v).some(hasNonAscii);
  }
  return false;
}

/**
 * Sets SpecificCharacterSet from the content: dcmjs writes text as UTF-8, so a dataset with any character
 * outside ASCII (a patient name copied from the source) declares ISO_IR 192; plain ASCII stays ISO_IR 100,
 * which every reader supports.
 */
export function withCharacterSet(d: Dataset): Dataset {
  d.SpecificCharacterSet = hasNonAscii(d) ? 'ISO_IR 192' : 'ISO_IR 100';
  return d;
}
