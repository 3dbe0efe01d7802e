import { ALGORITHM } from '@lumbar/core';
import { DISC_CODES, gradingCodes, type Code } from '@lumbar/dicom';
import { diagnosticReport, FHIR, GRADING_FHIR, type ReportInput } from './fhir';
import { gradingsOf, type Grading } from './gradings';

/** A grading as findings.json stores it (DiscGrading & { level } in @lumbar/pipeline). */
function stored(level: string, grade: number, over: Record<string, unknown> = {}) {
  const distribution = [0.05, 0.05, 0.05, 0.05, 0.05];
  distribution[grade - 1] = 0.8;
  return {
    level,
    model: { name: 'sag-grading', version: '1.0.0' },
    sopInstanceUid: '2.25.9',
    fromBottom: 1,
    herniation: 0.7,
    bulging: 0.3,
    narrowing: 0.6,
    modic: 0.2,
    endplate: 0.1,
    spondylolisthesis: 0.05,
    pfirrmann: { grade, distribution },
    flags: { herniation: true, bulging: false, narrowing: true },
    ...over,
  };
}

function input(gradings?: Grading[]): ReportInput {
  return {
    study: { studyInstanceUid: '2.25.1', accessionNumber: 'ACC1', studyDate: '20240102' },
    analysis: {
      id: 7,
      algorithmName: ALGORITHM.name,
      algorithmVersion: ALGORITHM.version,
      summary: 'L4-L5 bulge',
      finishedAt: new Date('2024-03-01T10:00:00Z'),
    },
    findings: [
      {
        level: 'L4-L5',
        diagnosis: 'bulge',
        probabilities: { healthy: 0.1, bulge: 0.6, central: 0.1, left: 0.1, right: 0.1 },
        reason: null,
      },
    ],
    ...(gradings ? { gradings } : {}),
  };
}

type Resource = { resourceType: string; id: string; [k: string]: unknown };
type Component = {
  code: { coding: Array<{ system: string; code: string; display: string }>; text: string };
  valueQuantity?: { value: number; unit: string; system: string; code: string };
  valueCodeableConcept?: { coding: Array<{ system: string; code: string; display: string }> };
};
const contained = (r: ReturnType<typeof diagnosticReport>) => r.contained as Resource[];

/** The FHIR coding of a DICOM code: SNOMED CT by URI, our private scheme by its own system. */
function fhirCoding(c: Code) {
  const system = c.scheme === 'SCT' ? FHIR.snomed : c.scheme === '99LUMBAR' ? FHIR.privateSystem : c.scheme;
  return { system, code: c.value, display: c.meaning };
}

describe('gradingsOf (findings.json as stored)', () => {
  it('reads `gradings`, top down, one per level, leaving out what does not parse', () => {
    const doc = {
      gradings: [
        stored('L5-S1', 4),
        stored('L4-L5', 3),
        stored('L4-L5', 1), // a second one for a level: the first wins
        stored('L3-L4', 2, { herniation: 1.5 }), // out of range
        stored('L2-L3', 6), // no such grade
        stored('S1-S2', 2), // no such level
        stored('L1-L2', 2, { model: { name: 'x' } }), // no version
        stored('T12-L1', 2, { flags: { herniation: true } }),
        null,
      ],
    };
    const g = gradingsOf(doc);
    expect(g.map((x) => [x.level, x.pfirrmann.grade])).toEqual([
      ['L4-L5', 3],
      ['L5-S1', 4],
    ]);
    expect(g[0]).toEqual(stored('L4-L5', 3)); // every field kept as stored
  });

  it("falls back on each level's `grading`; none for older documents, nulls or junk", () => {
    const { level: _level, ...grading } = stored('L4-L5', 2);
    void _level;
    const levels = [
      { level: 'L4-L5', diagnosis: 'bulge', grading },
      { level: 'L5-S1', diagnosis: 'healthy', grading: null },
    ];
    expect(gradingsOf({ levels }).map((g) => g.level)).toEqual(['L4-L5']);
    // `gradings` wins over the levels when it is there, even empty
    expect(gradingsOf({ levels, gradings: [] })).toEqual([]);
    expect(gradingsOf({ summary: 'x', levels: [{ level: 'L4-L5', diagnosis: 'left' }] })).toEqual([]);
    for (const doc of [null, undefined, 'text', 3, [], { gradings: 'no' }])
      expect(gradingsOf(doc)).toEqual([]);
  });
});

describe('diagnosticReport: gradings', () => {
  it('is the report it was without gradings (older analyses, no grader)', () => {
    const r = diagnosticReport(input());
    expect(diagnosticReport(input([]))).toEqual(r);
    expect(contained(r).map((c) => c.id)).toEqual(['algorithm', 'level-L4-L5']);
    expect(r.result.map((x) => x.reference)).toEqual(['#level-L4-L5']);
  });

  it('adds an Observation per graded disc, coded as the SR, by a Device for the grader model', () => {
    const gradings = gradingsOf({ gradings: [stored('L5-S1', 4), stored('L4-L5', 3)] });
    const r = diagnosticReport(input(gradings));
    expect(contained(r).map((c) => c.id)).toEqual([
      'algorithm',
      'model-sag-grading-1.0.0',
      'level-L4-L5',
      'grading-L4-L5',
      'grading-L5-S1',
    ]);
    expect(r.result.map((x) => x.reference)).toEqual(['#level-L4-L5', '#grading-L4-L5', '#grading-L5-S1']);
    const device = contained(r)[1];
    expect(device).toMatchObject({
      resourceType: 'Device',
      deviceName: [{ name: 'sag-grading', type: 'model-name' }],
      version: [{ value: '1.0.0' }],
      parent: { reference: '#algorithm' },
    });
    expect(JSON.stringify(device)).toMatch(/SPIDER.*CC BY 4\.0/);

    const obs = contained(r)[3] as Resource & { component: Component[]; note: Array<{ text: string }> };
    expect(obs).toMatchObject({
      resourceType: 'Observation',
      status: 'preliminary',
      code: {
        coding: [fhirCoding({ value: 'DISC-GRADING', scheme: '99LUMBAR', meaning: expect.any(String) })],
      },
      bodySite: { coding: [fhirCoding(DISC_CODES['L4-L5'])], text: 'L4-L5 intervertebral disc' },
      issued: '2024-03-01T10:00:00.000Z',
      device: { reference: '#model-sag-grading-1.0.0' },
    });
    expect(obs.note.map((n) => n.text).join(' ')).toMatch(/sag-grading 1\.0\.0.*not for primary diagnosis/is);

    // the same codes, values and units as the SR's grading group (gradingCodes in @lumbar/dicom)
    const coded = gradingCodes(gradings[0]);
    const numbers = obs.component.filter((c) => c.valueQuantity);
    expect(numbers.map((c) => c.code.coding[0])).toEqual(coded.measurements.map((m) => fhirCoding(m.name)));
    expect(numbers.map((c) => [c.valueQuantity!.value, c.valueQuantity!.code])).toEqual(
      coded.measurements.map((m) => [m.value, m.unit.value]),
    );
    expect(numbers.every((c) => c.valueQuantity!.system === 'http://unitsofmeasure.org')).toBe(true);
    expect(numbers[0].code.text).toMatch(/Pfirrmann/);
    const presence = obs.component.filter((c) => c.valueCodeableConcept);
    expect(presence.map((c) => [c.code.coding[0], c.valueCodeableConcept!.coding[0]])).toEqual(
      coded.evaluations.map((e) => [fhirCoding(e.name), fhirCoding(e.value)]),
    );
    expect(presence.map((c) => c.valueCodeableConcept!.coding[0].display)).toEqual([
      'Present',
      'Absent',
      'Present',
    ]);
    // valid FHIR JSON: no nulls, no empty strings
    expect(JSON.stringify(r)).not.toMatch(/null|""/);
  });

  it('keeps the FHIR code table in step with the DICOM one', () => {
    for (const [level, c] of Object.entries(DISC_CODES))
      expect(GRADING_FHIR.discs[level]).toEqual(fhirCoding(c));
  });
});
