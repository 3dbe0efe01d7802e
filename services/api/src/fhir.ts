import { ALGORITHM, GRADING_TASKS } from '@lumbar/core';
import type { Grading } from './gradings';

/**
 * FHIR R4 mapping of an analysis: one DiagnosticReport with one contained Observation per disc level, and
 * one per disc the sagittal grader graded.
 */
export const FHIR = {
  contentType: 'application/fhir+json; charset=utf-8',
  dicomUid: 'urn:dicom:uid',
  loinc: { system: 'http://loinc.org', code: '24968-0', display: 'MR Lumbar spine' },
  levelSystem: 'urn:lumbar-ai:disc-level',
  diagnosisSystem: 'urn:lumbar-ai:diagnosis',
  snomed: 'http://snomed.info/sct',
  ucum: 'http://unitsofmeasure.org',
  /** The private DICOM codes of the SR (coding scheme 99LUMBAR), with the same code values. */
  privateSystem: 'urn:lumbar-ai:dicom:99LUMBAR',
} as const;

interface Coding {
  system: string;
  code: string;
  display: string;
}
const sct = (code: string, display: string): Coding => ({ system: FHIR.snomed, code, display });
const own = (code: string, display: string): Coding => ({ system: FHIR.privateSystem, code, display });

/**
 * The codes of the grading Observations: the same as the SR's grading groups (GRADING_CODES and CODES in
 * @lumbar/dicom; services/api/src/fhir.test.ts checks that they agree).
 */
export const GRADING_FHIR = {
  observation: own('DISC-GRADING', 'Intervertebral disc grading, sagittal grader'),
  degeneration: sct('77547008', 'Degeneration of intervertebral disc'),
  pfirrmann: [1, 2, 3, 4, 5].map((g) => own(`P-PFIRRMANN-${g}`, `Probability of Pfirrmann grade ${g}`)),
  probabilities: {
    herniation: own('P-GRD-HERNIATION', 'Probability of herniation, sagittal grader'),
    bulging: own('P-GRD-BULGE', 'Probability of disc bulge, sagittal grader'),
    narrowing: own('P-NARROWING', 'Probability of disc space narrowing'),
    modic: own('P-MODIC', 'Probability of Modic change'),
    endplate: own('P-ENDPLATE', 'Probability of endplate defect'),
    spondylolisthesis: own('P-LISTHESIS', 'Probability of spondylolisthesis'),
  },
  presence: {
    herniation: sct('73589001', 'Herniation of intervertebral disc'),
    bulging: own('DISC-BULGE', 'Disc bulge'),
    narrowing: own('DISC-NARROWING', 'Narrowing of intervertebral disc space'),
  },
  present: sct('52101004', 'Present'),
  absent: sct('272519000', 'Absent'),
  /** Body sites: the SCT codes of the discs (the SR's finding sites). */
  discs: {
    'T12-L1': sct('76206002', 'T12/L1 disc'),
    'L1-L2': sct('80064006', 'L1/L2 disc'),
    'L2-L3': sct('67459009', 'L2/L3 disc'),
    'L3-L4': sct('62551000', 'L3/L4 disc'),
    'L4-L5': sct('84020006', 'L4/L5 disc'),
    'L5-S1': sct('715056000', 'L5/S1 disc'),
  } as Record<string, Coding>,
} as const;

/** Where the grader's numbers come from, said in each grading Observation. */
export const GRADING_SOURCE =
  "Sagittal grader on the mid-sagittal slice, learnt from the SPIDER data set's radiological grades " +
  '(van der Graaf et al., Scientific Data 11, 2024; CC BY 4.0).';

export interface ReportInput {
  study: { studyInstanceUid: string; accessionNumber: string | null; studyDate: string | null };
  analysis: {
    id: number;
    algorithmName: string;
    algorithmVersion: string;
    summary: string | null;
    finishedAt: Date | null;
  };
  findings: {
    level: string;
    diagnosis: string;
    probabilities: Record<string, number>;
    reason: string | null;
  }[];
  /** The sagittal grader's gradings; absent or empty without the grader (or for older analyses). */
  gradings?: Grading[];
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fhirId = (s: string) => s.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 64);
const dicomDate = (d: string | null) =>
  d && /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : undefined;

export const reportId = (analysisId: number) => `lumbar-${analysisId}`;

const IMAGING_CATEGORY = [
  {
    coding: [
      {
        system: 'http://terminology.hl7.org/CodeSystem/observation-category',
        code: 'imaging',
        display: 'Imaging',
      },
    ],
  },
];

function observation(f: ReportInput['findings'][number], issued: string | undefined) {
  const notes = [f.reason, ALGORITHM.disclaimer].filter((s): s is string => !!s).map((text) => ({ text }));
  return {
    resourceType: 'Observation',
    id: fhirId(`level-${f.level}`),
    status: 'preliminary',
    category: IMAGING_CATEGORY,
    code: {
      coding: [{ system: FHIR.levelSystem, code: f.level, display: `Disc ${f.level}` }],
      text: `Disc herniation, ${f.level}`,
    },
    ...(issued ? { issued } : {}),
    bodySite: { text: `${f.level} intervertebral disc` },
    valueCodeableConcept: {
      coding: [{ system: FHIR.diagnosisSystem, code: f.diagnosis }],
      text: f.diagnosis,
    },
    component: Object.entries(f.probabilities).map(([cls, p]) => ({
      code: { coding: [{ system: FHIR.diagnosisSystem, code: cls }], text: `probability of ${cls}` },
      valueQuantity: { value: p, unit: 'probability', system: 'http://unitsofmeasure.org', code: '1' },
    })),
    note: notes,
    device: { reference: '#algorithm' },
  };
}

const modelDeviceId = (m: Grading['model']) => fhirId(`model-${m.name}-${m.version}`);

/** A contained Device for a model that produced some of the report's Observations (part of #algorithm). */
function modelDevice(m: Grading['model']) {
  return {
    resourceType: 'Device',
    id: modelDeviceId(m),
    manufacturer: ALGORITHM.manufacturer,
    deviceName: [{ name: m.name, type: 'model-name' }],
    type: { text: `AI model: sagittal disc grader. ${GRADING_SOURCE}` },
    version: [{ value: m.version }],
    note: [{ text: ALGORITHM.disclaimer }],
    parent: { reference: '#algorithm' },
  };
}

/**
 * One graded disc: code DISC-GRADING, the disc as coded body site, and as components the degeneration
 * grade (SCT 77547008, UCUM {grade}, Pfirrmann), the probability of each Pfirrmann grade and of each finding
 * (UCUM 1), and present/absent for herniation, bulge and narrowing; the device is the grader model.
 */
function gradingObservation(g: Grading, issued: string | undefined) {
  const probability = (coding: Coding, value: number) => ({
    code: { coding: [coding], text: coding.display },
    valueQuantity: { value, unit: 'probability', system: FHIR.ucum, code: '1' },
  });
  const presence = (coding: Coding, flag: boolean) => {
    const value = flag ? GRADING_FHIR.present : GRADING_FHIR.absent;
    return {
      code: { coding: [coding], text: coding.display },
      valueCodeableConcept: { coding: [value], text: value.display },
    };
  };
  return {
    resourceType: 'Observation',
    id: fhirId(`grading-${g.level}`),
    status: 'preliminary',
    category: IMAGING_CATEGORY,
    code: { coding: [GRADING_FHIR.observation], text: `Disc grading, ${g.level}` },
    ...(issued ? { issued } : {}),
    bodySite: {
      ...(GRADING_FHIR.discs[g.level] ? { coding: [GRADING_FHIR.discs[g.level]] } : {}),
      text: `${g.level} intervertebral disc`,
    },
    component: [
      {
        code: {
          coding: [GRADING_FHIR.degeneration],
          text: 'Degeneration of intervertebral disc: Pfirrmann grade',
        },
        valueQuantity: {
          value: g.pfirrmann.grade,
          unit: 'Pfirrmann grade',
          system: FHIR.ucum,
          code: '{grade}',
        },
      },
      ...GRADING_FHIR.pfirrmann.map((c, i) => probability(c, g.pfirrmann.distribution[i])),
      ...GRADING_TASKS.map((t) => probability(GRADING_FHIR.probabilities[t], g[t])),
      presence(GRADING_FHIR.presence.herniation, g.flags.herniation),
      presence(GRADING_FHIR.presence.bulging, g.flags.bulging),
      presence(GRADING_FHIR.presence.narrowing, g.flags.narrowing),
    ],
    note: [
      { text: `${g.model.name} ${g.model.version} on SOP Instance ${g.sopInstanceUid}. ${GRADING_SOURCE}` },
      { text: "Present/absent compares the probability with the model's threshold." },
      { text: ALGORITHM.disclaimer },
    ],
    device: { reference: `#${modelDeviceId(g.model)}` },
  };
}

/** The DiagnosticReport of one analysis (status preliminary: an automated result awaiting a reader). */
export function diagnosticReport(r: ReportInput) {
  const { study, analysis } = r;
  const name = `${analysis.algorithmName} ${analysis.algorithmVersion}`;
  const issued = analysis.finishedAt ? analysis.finishedAt.toISOString() : undefined;
  const gradings = r.gradings ?? [];
  const observations = [
    ...r.findings.map((f) => observation(f, issued)),
    ...gradings.map((g) => gradingObservation(g, issued)),
  ];
  const models = [...new Map(gradings.map((g) => [modelDeviceId(g.model), g.model])).values()];
  const identifier: object[] = [{ system: FHIR.dicomUid, value: `urn:oid:${study.studyInstanceUid}` }];
  if (study.accessionNumber) {
    identifier.push({
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] },
      value: study.accessionNumber,
    });
  }
  const summary = analysis.summary ?? 'no summary';
  return {
    resourceType: 'DiagnosticReport',
    id: reportId(analysis.id),
    text: {
      status: 'generated',
      div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>${escapeXml(summary)}</p><p>${escapeXml(name)}: ${escapeXml(ALGORITHM.disclaimer)}</p></div>`,
    },
    contained: [
      {
        resourceType: 'Device',
        id: 'algorithm',
        manufacturer: ALGORITHM.manufacturer,
        deviceName: [{ name: analysis.algorithmName, type: 'model-name' }],
        type: {
          text: 'AI software: lumbar disc herniation detection (automated, not for primary diagnosis)',
        },
        version: [{ value: analysis.algorithmVersion }],
        note: [{ text: ALGORITHM.disclaimer }],
      },
      ...models.map(modelDevice),
      ...observations,
    ],
    identifier,
    status: 'preliminary',
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD', display: 'Radiology' },
        ],
      },
    ],
    code: { coding: [{ ...FHIR.loinc }], text: 'MR lumbar spine: automated disc assessment' },
    ...(dicomDate(study.studyDate) ? { effectiveDateTime: dicomDate(study.studyDate) } : {}),
    ...(issued ? { issued } : {}),
    performer: [{ display: `${name} (automated analysis; ${ALGORITHM.disclaimer})` }],
    result: observations.map((o) => ({ reference: `#${o.id}`, display: o.code.text })),
    conclusion: summary,
  };
}

/** A searchset Bundle; `base` is the server's base URL (fullUrl of each report). */
export function searchBundle(base: string, self: string, reports: ReturnType<typeof diagnosticReport>[]) {
  return {
    resourceType: 'Bundle' as const,
    type: 'searchset' as const,
    total: reports.length,
    link: [{ relation: 'self', url: self }],
    entry: reports.map((resource) => ({
      fullUrl: `${base}/fhir/DiagnosticReport/${resource.id}`,
      resource,
      search: { mode: 'match' },
    })),
  };
}
