import { CODES, DISC_CODES, GRADING_CODES, PROBABILITY_CODES, diagnosisCodes, gradingCodes } from './codes';
import { readPart10 } from './read';
import { measurementReportDataset, type MeasurementReportInput, type SrMeasurementGroup } from './sr';
import { fakeSeries } from './test-fixtures/sources';
import { writePart10, type Dataset } from './write';

const sag = fakeSeries({ series: '2.25.3', count: 2 });
const ax = fakeSeries({ series: '2.25.4', count: 2, view: 'axial' });
const SEG = {
  sopClassUid: '1.2.840.10008.5.1.4.1.1.66.4',
  sopInstanceUid: '2.25.50',
  seriesInstanceUid: '2.25.51',
};

function group(level: string, diagnosis: 'right' | 'indeterminate'): SrMeasurementGroup {
  const { finding, position } = diagnosisCodes(diagnosis);
  const found = diagnosis !== 'indeterminate';
  return {
    trackingId: `${level} disc`,
    trackingUid: `2.25.7${level.length}`,
    finding,
    findingSite: DISC_CODES[level],
    evaluations: position ? [position] : [],
    measurements: found
      ? [{ name: PROBABILITY_CODES.right, value: 0.7, unit: CODES.noUnits, sources: [{ source: ax[1] }] }]
      : [],
    segment: found ? { ...SEG, segmentNumber: 2, sources: [{ source: ax[0] }, { source: ax[1] }] } : null,
    comment: found ? null : 'the disc was not found',
  };
}

/** A grading group of the sagittal grader: its own algorithm, a grade with its method, present/absent. */
function gradingGroup(level: string): SrMeasurementGroup {
  const coded = gradingCodes({
    herniation: 0.9,
    bulging: 0.2,
    narrowing: 0.6,
    modic: 0.1,
    endplate: 0.05,
    spondylolisthesis: 0.01,
    pfirrmann: { grade: 4, distribution: [0, 0.05, 0.15, 0.7, 0.1] },
    flags: { herniation: true, bulging: false, narrowing: true },
  });
  return {
    trackingId: `${level} disc`,
    trackingUid: '2.25.80',
    finding: GRADING_CODES.finding,
    findingSite: DISC_CODES[level],
    evaluations: coded.evaluations,
    measurements: coded.measurements.map((m) => ({ ...m, sources: [{ source: sag[0] }] })),
    segment: null,
    comment: 'learnt from SPIDER',
    algorithm: { name: 'sag-grading', version: '1.2.0' },
  };
}

function input(groups: SrMeasurementGroup[], patientName?: string): MeasurementReportInput {
  return {
    sources: [
      ...fakeSeries({ series: '2.25.3', count: 2, patientName }),
      ...fakeSeries({ series: '2.25.4', count: 2, view: 'axial', patientName }),
    ],
    groups,
    summary: 'L5/S1 right paracentral herniation',
    disclaimer: 'Not for primary diagnosis.',
    observer: {
      uid: '2.25.60',
      name: 'lumbar-ai',
      manufacturer: 'lumbar-ai (open source)',
      modelName: 'lumbar-ai 0.1.0',
    },
    algorithm: { name: 'lumbar-ai', version: '0.1.0' },
    procedure: CODES.mriUnspecifiedBodyRegion,
    ids: {
      seriesInstanceUid: '2.25.61',
      sopInstanceUid: '2.25.62',
      seriesNumber: 9903,
      instanceNumber: 1,
      seriesDescription: 'report',
    },
    createdAt: new Date('2026-01-02T03:04:05Z'),
  };
}

const items = (d: Dataset) => (d.ContentSequence ?? []) as Dataset[];
const name = (d: Dataset) => (d.ConceptNameCodeSequence as Dataset[])[0].CodeValue;
const child = (d: Dataset, code: string) => items(d).find((i) => name(i) === code)!;

describe('measurementReportDataset (TID 1500)', () => {
  const d = measurementReportDataset(input([group('L4-L5', 'indeterminate'), group('L5-S1', 'right')]));

  it('is a Comprehensive SR with the TID 1500 root, the device observer and the procedure', () => {
    expect(d).toMatchObject({
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.88.33',
      Modality: 'SR',
      ValueType: 'CONTAINER',
    });
    expect(d).toMatchObject({
      StudyInstanceUID: '2.25.1',
      PatientName: 'PHANTOM^TEST',
      VerificationFlag: 'UNVERIFIED',
    });
    expect(name(d)).toBe('126000');
    expect(d.ContentTemplateSequence).toEqual([{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }]);
    expect(items(d).map(name)).toEqual([
      '121049',
      '121005',
      '121012',
      '121013',
      '121014',
      '121015',
      '121058',
      '111028',
      '126010',
      'C0034375',
    ]);
    expect(child(d, '121013').TextValue).toBe('lumbar-ai');
  });

  it('lists the source images in an image library group per series', () => {
    const groups = items(child(d, '111028'));
    expect(
      groups.map((g) =>
        items(g).map((i) => (i.ReferencedSOPSequence as Dataset[])[0].ReferencedSOPInstanceUID),
      ),
    ).toEqual([sag.map((s) => s.sopInstanceUid), ax.map((s) => s.sopInstanceUid)]);
  });

  it('writes one measurement group per finding: TID 1411 citing the segment, TID 1501 without one', () => {
    const [none, right] = items(child(d, '126010'));
    expect((none.ContentTemplateSequence as Dataset[])[0].TemplateIdentifier).toBe('1501');
    expect((right.ContentTemplateSequence as Dataset[])[0].TemplateIdentifier).toBe('1411');
    expect(child(right, '112039').TextValue).toBe('L5-S1 disc');
    expect((child(right, '121071').ConceptCodeSequence as Dataset[])[0].CodeValue).toBe('73589001');
    expect((child(right, '363698007').ConceptCodeSequence as Dataset[])[0].CodeValue).toBe('715056000');
    expect((child(right, '272741003').ConceptCodeSequence as Dataset[])[0].CodeMeaning).toBe('Right');
    expect((child(right, '121191').ReferencedSOPSequence as Dataset[])[0]).toMatchObject({
      ReferencedSOPInstanceUID: SEG.sopInstanceUid,
      ReferencedSegmentNumber: 2,
    });
    expect(items(right).filter((i) => name(i) === '121233')).toHaveLength(2);
    const p = child(right, 'P-RIGHT');
    expect((p.MeasuredValueSequence as Dataset[])[0]).toMatchObject({ NumericValue: '0.7' });
    expect(items(p).map((i) => i.RelationshipType)).toEqual(['INFERRED FROM']);
    expect(child(none, '121106').TextValue).toBe('the disc was not found');
    expect(child(none, '121191')).toBeUndefined();
  });

  it('states the summary and the intended use, and declares the private coding scheme', () => {
    expect(items(child(d, 'C0034375')).map((i) => i.TextValue)).toEqual([
      'L5/S1 right paracentral herniation',
      'Not for primary diagnosis.',
    ]);
    expect(d.CodingSchemeIdentificationSequence).toEqual([
      expect.objectContaining({ CodingSchemeDesignator: '99LUMBAR' }),
    ]);
  });

  it('cites every referenced instance, the SEG included, in the evidence sequence', () => {
    const [ev] = d.CurrentRequestedProcedureEvidenceSequence as Dataset[];
    const series = ev.ReferencedSeriesSequence as Dataset[];
    expect(series.map((s) => s.SeriesInstanceUID)).toEqual(['2.25.3', '2.25.4', SEG.seriesInstanceUid]);
    expect((series[2].ReferencedSOPSequence as Dataset[])[0].ReferencedSOPInstanceUID).toBe(
      SEG.sopInstanceUid,
    );
  });

  it("writes a grading group with the grader's algorithm, the grade's method, probabilities and presence", () => {
    const r = measurementReportDataset(input([group('L5-S1', 'right'), gradingGroup('L3-L4')]));
    const [level, grading] = items(child(r, '126010'));
    const text = (g: Dataset, code: string) => child(g, code).TextValue;
    expect([text(level, '111001'), text(level, '111003')]).toEqual(['lumbar-ai', '0.1.0']);
    expect([text(grading, '111001'), text(grading, '111003')]).toEqual(['sag-grading', '1.2.0']);
    expect((grading.ContentTemplateSequence as Dataset[])[0].TemplateIdentifier).toBe('1501');
    expect((child(grading, '121071').ConceptCodeSequence as Dataset[])[0].CodeValue).toBe('DISC-GRADING');
    expect((child(grading, '363698007').ConceptCodeSequence as Dataset[])[0].CodeValue).toBe('62551000');
    const grade = child(grading, '77547008');
    expect(grade.ValueType).toBe('NUM');
    expect((grade.MeasuredValueSequence as Dataset[])[0]).toMatchObject({
      NumericValue: '4',
      MeasurementUnitsCodeSequence: [
        { CodeValue: '{grade}', CodingSchemeDesignator: 'UCUM', CodeMeaning: 'grade' },
      ],
    });
    const [method, source] = items(grade);
    expect(method).toMatchObject({ RelationshipType: 'HAS CONCEPT MOD', ValueType: 'CODE' });
    expect(name(method)).toBe('370129005');
    expect((method.ConceptCodeSequence as Dataset[])[0].CodeValue).toBe('PFIRRMANN');
    expect(source).toMatchObject({ RelationshipType: 'INFERRED FROM', ValueType: 'IMAGE' });
    expect((child(grading, 'P-PFIRRMANN-4').MeasuredValueSequence as Dataset[])[0].NumericValue).toBe('0.7');
    expect((child(grading, 'P-NARROWING').MeasuredValueSequence as Dataset[])[0].NumericValue).toBe('0.6');
    const presence = (code: string) => (child(grading, code).ConceptCodeSequence as Dataset[])[0].CodeMeaning;
    expect([presence('73589001'), presence('DISC-BULGE'), presence('DISC-NARROWING')]).toEqual([
      'Present',
      'Absent',
      'Present',
    ]);
    expect(text(grading, '121106')).toBe('learnt from SPIDER');
    // the graded slice is evidence; the private scheme is declared once
    const [ev] = r.CurrentRequestedProcedureEvidenceSequence as Dataset[];
    const sagRefs = (ev.ReferencedSeriesSequence as Dataset[]).find((x) => x.SeriesInstanceUID === '2.25.3')!;
    expect((sagRefs.ReferencedSOPSequence as Dataset[]).map((x) => x.ReferencedSOPInstanceUID)).toContain(
      sag[0].sopInstanceUid,
    );
    expect(r.CodingSchemeIdentificationSequence).toHaveLength(1);
  });

  it('survives writing and reading back, in UTF-8 when a name needs it', () => {
    expect(d.SpecificCharacterSet).toBe('ISO_IR 100');
    const back = readPart10(writePart10(d));
    expect(items(child(back, '126010'))).toHaveLength(2);
    const utf8 = measurementReportDataset(input([group('L5-S1', 'right')], 'Müller^Jürgen'));
    expect(utf8.SpecificCharacterSet).toBe('ISO_IR 192');
    expect(readPart10(writePart10(utf8)).PatientName).toEqual([{ Alphabetic: 'Müller^Jürgen' }]);
  });
});
