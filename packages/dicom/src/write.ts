import * as dcmjs from 'dcmjs';
import { ALGORITHM } from '@lumbar/core';

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
export const IMPLEMENTATION_CLASS_UID = '2.25.223041237582733496163553779447011513581';
export const IMPLEMENTATION_VERSION_NAME = `LUMBAR_${ALGORITHM.version.replace(/\./g, '')}`;

/** A naturalized dcmjs dataset (keyword -> value), as dcmjs reads and writes them. */
export type Dataset = Record<string, unknown>;

const { DicomDict, DicomMetaDictionary } = dcmjs.data;

/** Serialises a naturalized dataset as a DICOM Part 10 file in explicit VR little endian. */
export function writePart10(dataset: Dataset): Buffer {
  const sopClassUid = dataset.SOPClassUID;
  const sopInstanceUid = dataset.SOPInstanceUID;
  if (typeof sopClassUid !== 'string' || typeof sopInstanceUid !== 'string') {
    throw new Error('writePart10: SOPClassUID and SOPInstanceUID are required');
  }
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUid,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(dict.write());
}

/** A decimal string (DS) of at most 16 characters. */
export function ds(x: number): string {
  if (Number.isInteger(x)) return String(x);
  for (let digits = 10; digits > 0; digits--) {
    const s = String(Number(x.toFixed(digits)));
    if (s.length <= 16) return s;
  }
  return String(Math.round(x));
}

/** DICOM DA and TM strings from a Date, in UTC so that output never depends on the host's zone. */
export function da(d: Date): string {
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}
export function tm(d: Date): string {
  return d.toISOString().slice(11, 19).replace(/:/g, '');
}

/**
 * The 128-byte preamble, "DICM" and the file meta information of a Part 10 file whose data set (in the
 * given transfer syntax) follows as received: how the receiver streams a C-STORE to disk without parsing.
 */
export function part10Header(m: {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  sourceAeTitle?: string;
}): Buffer {
  const meta: Dataset = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: m.sopClassUid,
    MediaStorageSOPInstanceUID: m.sopInstanceUid,
    TransferSyntaxUID: m.transferSyntaxUid,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  };
  if (m.sourceAeTitle) meta.SourceApplicationEntityTitle = m.sourceAeTitle;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = {};
  return Buffer.from(dict.write());
}
