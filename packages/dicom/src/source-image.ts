import type { ImagePlane } from './geometry';
import { instanceHeader } from './instance';
import type { Dataset } from './write';

/**
 * Attributes of the Patient, Patient Study and General Study modules that derived objects copy from their
 * source, so that a PACS files them in the same patient and study. The first group is type 2 in those
 * modules: written even when the source lacks them (empty).
 */
const TYPE2_PATIENT_STUDY = [
  'PatientName',
  'PatientID',
  'PatientBirthDate',
  'PatientSex',
  'StudyDate',
  'StudyTime',
  'ReferringPhysicianName',
  'StudyID',
  'AccessionNumber',
] as const;
const OPTIONAL_PATIENT_STUDY = [
  'IssuerOfPatientID',
  'PatientIdentityRemoved',
  'DeidentificationMethod',
  'StudyDescription',
  'PatientAge',
  'PatientSize',
  'PatientWeight',
] as const;

/** What a derived object needs to know about one source instance: identity, geometry, patient and study. */
export interface SourceImage {
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  /** Empty when the source has none (a derived SEG then cannot be written on it). */
  frameOfReferenceUid: string;
  modality: string;
  rows: number;
  columns: number;
  frames: number;
  /** One per frame; null where the frame has no usable geometry. */
  planes: Array<ImagePlane | null>;
  sliceThickness: number | null;
  /** Patient and study attributes, copied as read (keyword -> value), StudyInstanceUID included. */
  patientStudy: Dataset;
}

const text = (v: unknown): string => (Array.isArray(v) ? v.join('\\') : String(v ?? '')).trim();

/** The SourceImage of a dataset read by readPart10 (headerOnly is enough). */
export function sourceImageOf(ds: Dataset, name = 'dataset'): SourceImage {
  const h = instanceHeader(ds, name);
  const patientStudy: Dataset = { StudyInstanceUID: h.studyInstanceUid };
  for (const k of TYPE2_PATIENT_STUDY) patientStudy[k] = ds[k] ?? '';
  for (const k of OPTIONAL_PATIENT_STUDY) if (ds[k] !== undefined && ds[k] !== '') patientStudy[k] = ds[k];
  return {
    sopClassUid: h.sopClassUid,
    sopInstanceUid: h.sopInstanceUid,
    seriesInstanceUid: h.seriesInstanceUid,
    studyInstanceUid: h.studyInstanceUid,
    frameOfReferenceUid: text(ds.FrameOfReferenceUID),
    modality: h.modality,
    rows: h.rows,
    columns: h.columns,
    frames: h.frames,
    planes: h.planes,
    sliceThickness: h.sliceThickness,
    patientStudy,
  };
}

/** A reference to one source image (and frame, for a multi-frame source): SOP Instance Reference Macro. */
export function imageReference(src: SourceImage, frame = 0): Dataset {
  return {
    ReferencedSOPClassUID: src.sopClassUid,
    ReferencedSOPInstanceUID: src.sopInstanceUid,
    ...(src.frames > 1 ? { ReferencedFrameNumber: String(frame + 1) } : {}),
  };
}

/** ReferencedSeriesSequence items (Common Instance Reference / Hierarchical Series Reference), one per series. */
export function referencedSeries(
  refs: ReadonlyArray<{ seriesInstanceUid: string; sopClassUid: string; sopInstanceUid: string }>,
  instanceKey: 'ReferencedInstanceSequence' | 'ReferencedSOPSequence',
): Dataset[] {
  const bySeries = new Map<string, Map<string, string>>();
  for (const r of refs) {
    let m = bySeries.get(r.seriesInstanceUid);
    if (!m) bySeries.set(r.seriesInstanceUid, (m = new Map()));
    m.set(r.sopInstanceUid, r.sopClassUid);
  }
  return [...bySeries].map(([seriesInstanceUid, m]) => ({
    SeriesInstanceUID: seriesInstanceUid,
    [instanceKey]: [...m].map(([uid, cls]) => ({
      ReferencedSOPClassUID: cls,
      ReferencedSOPInstanceUID: uid,
    })),
  }));
}
