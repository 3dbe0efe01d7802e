import { ALGORITHM } from '@lumbar/core';

/** FHIR R4 mapping of an analysis: one DiagnosticReport with one contained Observation per disc level. */
export const FHIR = {
  contentType: 'application/fhir+json; charset=utf-8',
  dicomUid: 'urn:dicom:uid',
  loinc: { system: 'http://loinc.org', code: '24968-0', display: 'MR Lumbar spine' },
  levelSystem: 'urn:lumbar-ai:disc-level',
  diagnosisSystem: 'urn:lumbar-ai:diagnosis',
} as const;

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
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fhirId = (s: string) => s.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 64);
const dicomDate = (d: string | null) =>
  d && /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : undefined;

export const reportId = (analysisId: number) => `lumbar-${analysisId}`;

function observation(f: ReportInput['findings'][number], issued: string | undefined) {
  const notes = [f.reason, ALGORITHM.disclaimer].filter((s): s is string => !!s).map((text) => ({ text }));
  return {
    resourceType: 'Observation',
    id: fhirId(`level-${f.level}`),
    status: 'preliminary',
    category: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/observation-category',
            code: 'imaging',
            display: 'Imaging',
          },
        ],
      },
    ],
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

/** The DiagnosticReport of one analysis (status preliminary: an automated result awaiting a reader). */
export function diagnosticReport(r: ReportInput) {
  const { study, analysis } = r;
  const name = `${analysis.algorithmName} ${analysis.algorithmVersion}`;
  const issued = analysis.finishedAt ? analysis.finishedAt.toISOString() : undefined;
  const observations = r.findings.map((f) => observation(f, issued));
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
