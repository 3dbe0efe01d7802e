import { GRADING_TASKS, type GradingProbabilities } from '@lumbar/core';
import type { Dataset } from './write';

/** A coded concept: (value, coding scheme designator, meaning), as DICOM writes it in a code sequence. */
export interface Code {
  readonly value: string;
  readonly scheme: string;
  readonly meaning: string;
}

const code = (value: string, scheme: string, meaning: string): Code => ({ value, scheme, meaning });

/** One item of a code sequence (Basic Code Sequence Macro). */
export function codeItem(c: Code): Dataset {
  return { CodeValue: c.value, CodingSchemeDesignator: c.scheme, CodeMeaning: c.meaning };
}

export const sameCode = (a: Code, b: Code): boolean => a.value === b.value && a.scheme === b.scheme;

/**
 * Our private coding scheme, for concepts no standard terminology names (PS3.3 8.2: designators that start
 * with "99" are private). Declared in CodingSchemeIdentificationSequence of every object that uses it.
 */
export const PRIVATE_SCHEME = {
  designator: '99LUMBAR',
  name: 'lumbar-ai private codes',
  responsibleOrganization: 'lumbar-ai (open source)',
} as const;

/** The CodingSchemeIdentificationSequence item that declares PRIVATE_SCHEME. */
export function privateSchemeItem(): Dataset {
  return {
    CodingSchemeDesignator: PRIVATE_SCHEME.designator,
    CodingSchemeName: PRIVATE_SCHEME.name,
    CodingSchemeResponsibleOrganization: PRIVATE_SCHEME.responsibleOrganization,
  };
}

/**
 * Every code the writers use. Sources (see docs/DICOM-OUTPUTS.md): DCM, SCT, LN and UCUM codes and their
 * meanings as listed in DICOM PS3.16 (checked against pydicom 3.0.2's tables generated from PS3.16, with
 * the context groups they belong to); SCT 73589001 from a published FHIR value set and SCT 77547008 from
 * public SNOMED CT mappings (neither is in any DICOM CID).
 */
export const CODES = {
  // TID 1500 document structure (DCM)
  imagingMeasurementReport: code('126000', 'DCM', 'Imaging Measurement Report'), // CID 7021
  language: code('121049', 'DCM', 'Language of Content Item and Descendants'),
  englishUS: code('en-US', 'RFC5646', 'English (United States)'),
  observerType: code('121005', 'DCM', 'Observer Type'),
  device: code('121007', 'DCM', 'Device'), // CID 270
  deviceObserverUid: code('121012', 'DCM', 'Device Observer UID'),
  deviceObserverName: code('121013', 'DCM', 'Device Observer Name'),
  deviceObserverManufacturer: code('121014', 'DCM', 'Device Observer Manufacturer'),
  deviceObserverModelName: code('121015', 'DCM', 'Device Observer Model Name'),
  procedureReported: code('121058', 'DCM', 'Procedure reported'),
  imageLibrary: code('111028', 'DCM', 'Image Library'),
  imageLibraryGroup: code('126200', 'DCM', 'Image Library Group'),
  modality: code('121139', 'DCM', 'Modality'),
  frameOfReferenceUid: code('112227', 'DCM', 'Frame of Reference UID'),
  pixelDataRows: code('110910', 'DCM', 'Pixel Data Rows'),
  pixelDataColumns: code('110911', 'DCM', 'Pixel Data Columns'),
  imagingMeasurements: code('126010', 'DCM', 'Imaging Measurements'),
  measurementGroup: code('125007', 'DCM', 'Measurement Group'),
  trackingIdentifier: code('112039', 'DCM', 'Tracking Identifier'),
  trackingUid: code('112040', 'DCM', 'Tracking Unique Identifier'),
  finding: code('121071', 'DCM', 'Finding'),
  referencedSegment: code('121191', 'DCM', 'Referenced Segment'), // CID 7250
  sourceImageForSegmentation: code('121233', 'DCM', 'Source image for segmentation'),
  sourceOfMeasurement: code('121112', 'DCM', 'Source of Measurement'),
  imageRegion: code('111030', 'DCM', 'Image Region'), // TID 320: the SCOORD a measurement is inferred from
  area: code('42798000', 'SCT', 'Area'), // CID 7470
  squareMillimetre: code('mm2', 'UCUM', 'mm2'),
  summary: code('121111', 'DCM', 'Summary'),
  comment: code('121106', 'DCM', 'Comment'),
  algorithmName: code('111001', 'DCM', 'Algorithm Name'),
  algorithmVersion: code('111003', 'DCM', 'Algorithm Version'),
  algorithmParameters: code('111002', 'DCM', 'Algorithm Parameters'),
  qualitativeEvaluations: code('C0034375', 'UMLS', 'Qualitative Evaluations'),
  // derivation and equipment (DCM)
  sourceImageForProcessing: code('121322', 'DCM', 'Source image for image processing operation'), // CID 7202
  segmentation: code('113076', 'DCM', 'Segmentation'), // CID 7203
  artificialIntelligence: code('123110', 'DCM', 'Artificial Intelligence'), // CID 7162
  magneticResonance: code('MR', 'DCM', 'Magnetic Resonance'), // CID 29
  // procedure (CID 100 Quantitative Diagnostic Imaging Procedures)
  mriUnspecifiedBodyRegion: code('25056-3', 'LN', 'MRI unspecified body region'),
  // anatomy and findings (SCT)
  source: code('260753009', 'SCT', 'Source'),
  findingSite: code('363698007', 'SCT', 'Finding Site'),
  anatomicalStructure: code('91723000', 'SCT', 'Anatomical Structure'), // CID 7150
  laterality: code('272741003', 'SCT', 'Laterality'),
  topographicalModifier: code('106233006', 'SCT', 'Topographical modifier'),
  left: code('7771000', 'SCT', 'Left'), // CID 244
  right: code('24028007', 'SCT', 'Right'), // CID 244
  central: code('26216008', 'SCT', 'Central'), // CID 2
  normal: code('17621005', 'SCT', 'Normal'), // CID 222
  indeterminate: code('82334004', 'SCT', 'Indeterminate'), // CID 4220
  herniatedDisc: code('73589001', 'SCT', 'Herniation of intervertebral disc'),
  discDegeneration: code('77547008', 'SCT', 'Degeneration of intervertebral disc'),
  present: code('52101004', 'SCT', 'Present'), // CID 241
  absent: code('272519000', 'SCT', 'Absent'), // CID 241
  measurementMethod: code('370129005', 'SCT', 'Measurement Method'), // CID 9000
  // units (CID 7181; "{grade}" is a UCUM annotation of unity, like "{ratio}")
  noUnits: code('1', 'UCUM', 'no units'),
  grade: code('{grade}', 'UCUM', 'grade'),
  // private: no standard code found
  discBulge: code('DISC-BULGE', PRIVATE_SCHEME.designator, 'Disc bulge'),
  disclaimer: code('DISCLAIMER', PRIVATE_SCHEME.designator, 'Intended use statement'),
  sagittalHerniationProbability: code(
    'P-SAG-HERNIATION',
    PRIVATE_SCHEME.designator,
    'Probability of herniation, sagittal classifier',
  ),
} as const;

/** SNOMED CT codes of the intervertebral discs by level (CID 7151 Segmented Property Types, CID 7604). */
export const DISC_CODES: Readonly<Record<string, Code>> = {
  'T12-L1': code('76206002', 'SCT', 'T12/L1 disc'),
  'L1-L2': code('80064006', 'SCT', 'L1/L2 disc'),
  'L2-L3': code('67459009', 'SCT', 'L2/L3 disc'),
  'L3-L4': code('62551000', 'SCT', 'L3/L4 disc'),
  'L4-L5': code('84020006', 'SCT', 'L4/L5 disc'),
  'L5-S1': code('715056000', 'SCT', 'L5/S1 disc'),
};

/** Private concept names of the classifier's probability per class (TID 300 NUM, unit "1"). */
export const PROBABILITY_CODES: Readonly<Record<string, Code>> = {
  healthy: code('P-NORMAL', PRIVATE_SCHEME.designator, 'Probability of normal disc'),
  bulge: code('P-BULGE', PRIVATE_SCHEME.designator, 'Probability of disc bulge'),
  central: code('P-CENTRAL', PRIVATE_SCHEME.designator, 'Probability of central herniation'),
  left: code('P-LEFT', PRIVATE_SCHEME.designator, 'Probability of left paracentral herniation'),
  right: code('P-RIGHT', PRIVATE_SCHEME.designator, 'Probability of right paracentral herniation'),
};

/**
 * The sagittal grader's outputs (models/sag-grading, learnt from the SPIDER data set's radiological grades),
 * one TID 1501 group per graded disc. Private where no standard concept was found (docs/DICOM-OUTPUTS.md).
 */
export const GRADING_CODES = {
  /** Finding of a grading group: what the group is, not a diagnosis. */
  finding: code('DISC-GRADING', PRIVATE_SCHEME.designator, 'Intervertebral disc grading, sagittal grader'),
  /** The Measurement Method of the degeneration grade. */
  pfirrmannMethod: code('PFIRRMANN', PRIVATE_SCHEME.designator, 'Pfirrmann grading system'),
  /** Probability of each Pfirrmann grade, 1 to 5. */
  pfirrmann: [1, 2, 3, 4, 5].map((g) =>
    code(`P-PFIRRMANN-${g}`, PRIVATE_SCHEME.designator, `Probability of Pfirrmann grade ${g}`),
  ),
  herniation: code(
    'P-GRD-HERNIATION',
    PRIVATE_SCHEME.designator,
    'Probability of herniation, sagittal grader',
  ),
  bulging: code('P-GRD-BULGE', PRIVATE_SCHEME.designator, 'Probability of disc bulge, sagittal grader'),
  narrowing: code('P-NARROWING', PRIVATE_SCHEME.designator, 'Probability of disc space narrowing'),
  modic: code('P-MODIC', PRIVATE_SCHEME.designator, 'Probability of Modic change'),
  endplate: code('P-ENDPLATE', PRIVATE_SCHEME.designator, 'Probability of endplate defect'),
  spondylolisthesis: code('P-LISTHESIS', PRIVATE_SCHEME.designator, 'Probability of spondylolisthesis'),
  /** Name of the present/absent evaluation of narrowing (herniation and bulge reuse CODES). */
  narrowingFinding: code(
    'DISC-NARROWING',
    PRIVATE_SCHEME.designator,
    'Narrowing of intervertebral disc space',
  ),
} as const;

/** One disc's grading as the sagittal grader gives it (the values of DiscGrading in @lumbar/pipeline). */
export interface GradingValues extends GradingProbabilities {
  pfirrmann: { grade: number; distribution: readonly number[] };
  flags: { herniation: boolean; bulging: boolean; narrowing: boolean };
}

/** A coded numeric value: concept name, value, unit and, where it has one, the measurement method. */
export interface CodedNumber {
  name: Code;
  value: number;
  unit: Code;
  method?: Code;
}

/**
 * The coded content of one disc's grading, shared by the SR and the FHIR mapping: the degeneration grade
 * (SCT "Degeneration of intervertebral disc", unit "{grade}", method Pfirrmann), the probability of each
 * Pfirrmann grade and of each finding (unit "1"), and present/absent (CID 241) for the findings the model
 * flags against its thresholds.
 */
export function gradingCodes(g: GradingValues): {
  measurements: CodedNumber[];
  evaluations: Array<{ name: Code; value: Code }>;
} {
  const p = (name: Code, value: number): CodedNumber => ({ name, value, unit: CODES.noUnits });
  const presence = (flag: boolean) => (flag ? CODES.present : CODES.absent);
  return {
    measurements: [
      {
        name: CODES.discDegeneration,
        value: g.pfirrmann.grade,
        unit: CODES.grade,
        method: GRADING_CODES.pfirrmannMethod,
      },
      ...GRADING_CODES.pfirrmann.map((c, i) => p(c, g.pfirrmann.distribution[i])),
      ...GRADING_TASKS.map((t) => p(GRADING_CODES[t], g[t])),
    ],
    evaluations: [
      { name: CODES.herniatedDisc, value: presence(g.flags.herniation) },
      { name: CODES.discBulge, value: presence(g.flags.bulging) },
      { name: GRADING_CODES.narrowingFinding, value: presence(g.flags.narrowing) },
    ],
  };
}

/** Whether a code (or any code in a list) comes from the private scheme. */
export const isPrivate = (c: Code): boolean => c.scheme === PRIVATE_SCHEME.designator;

export type DiagnosisName = 'healthy' | 'bulge' | 'central' | 'left' | 'right' | 'indeterminate';

/** A coded position of a herniation: the name of the qualitative evaluation and its value. */
export interface CodedPosition {
  name: Code;
  value: Code;
}

/**
 * The coded finding of one disc and, for a herniation, its position. Left and right are the patient's
 * (left paracentral = Laterality Left), never the image side.
 */
export function diagnosisCodes(d: DiagnosisName): { finding: Code; position: CodedPosition | null } {
  switch (d) {
    case 'healthy':
      return { finding: CODES.normal, position: null };
    case 'bulge':
      return { finding: CODES.discBulge, position: null };
    case 'central':
      return {
        finding: CODES.herniatedDisc,
        position: { name: CODES.topographicalModifier, value: CODES.central },
      };
    case 'left':
      return { finding: CODES.herniatedDisc, position: { name: CODES.laterality, value: CODES.left } };
    case 'right':
      return { finding: CODES.herniatedDisc, position: { name: CODES.laterality, value: CODES.right } };
    case 'indeterminate':
      return { finding: CODES.indeterminate, position: null };
  }
}
