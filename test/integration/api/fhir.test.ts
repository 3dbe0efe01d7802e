import { ALGORITHM } from '@lumbar/core';
import { PATIENT_NAME, useApiTest } from '../../helpers/api';

const suite = useApiTest();
const { studies, get } = suite;

// FHIR R4: GET /fhir/DiagnosticReport (search) and /fhir/DiagnosticReport/:id (read).
describe('FHIR R4', () => {
  it('returns a searchset Bundle of DiagnosticReport with one Observation per level', async () => {
    const res = await get(`/fhir/DiagnosticReport?study=${studies.b.uid}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const bundle = res.json();
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
    const [entry] = bundle.entry;
    expect(entry.search).toEqual({ mode: 'match' });
    const report = entry.resource;
    expect(entry.fullUrl).toMatch(new RegExp(`/fhir/DiagnosticReport/${report.id}$`));
    expect(report).toMatchObject({
      resourceType: 'DiagnosticReport',
      status: 'preliminary',
      identifier: [
        { system: 'urn:dicom:uid', value: `urn:oid:${studies.b.uid}` },
        { type: { coding: [{ code: 'ACSN' }] }, value: 'ACC2' },
      ],
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '24968-0' }] },
      conclusion: 'L4-L5 bulge; L5-S1 central',
      effectiveDateTime: '2024-01-02',
    });
    expect(report.text.div).toMatch(/^<div xmlns="http:\/\/www.w3.org\/1999\/xhtml">/);
    expect(report.text.div).toMatch(/not for primary diagnosis/i);
    expect(report.performer[0].display).toContain(`${ALGORITHM.name} ${ALGORITHM.version}`);
    const device = report.contained.find((r: { resourceType: string }) => r.resourceType === 'Device');
    expect(device).toMatchObject({
      version: [{ value: ALGORITHM.version }],
      deviceName: [{ name: ALGORITHM.name }],
    });
    const obs = report.contained.filter((r: { resourceType: string }) => r.resourceType === 'Observation');
    expect(obs).toHaveLength(2);
    expect(report.result.map((r: { reference: string }) => r.reference)).toEqual(
      obs.map((o: { id: string }) => `#${o.id}`),
    );
    expect(obs[0]).toMatchObject({
      status: 'preliminary',
      code: { coding: [{ code: 'L4-L5' }] },
      valueCodeableConcept: { coding: [{ code: 'bulge' }], text: 'bulge' },
      device: { reference: '#algorithm' },
    });
    expect(obs[0].component).toHaveLength(5);
    const bulge = obs[0].component.find(
      (c: { code: { text: string } }) => c.code.text === 'probability of bulge',
    );
    expect(bulge.valueQuantity).toMatchObject({ value: 0.6, system: 'http://unitsofmeasure.org', code: '1' });
    expect(obs[0].note.map((n: { text: string }) => n.text).join(' ')).toMatch(/not for primary diagnosis/i);
    // Valid JSON for FHIR: no nulls, no empty strings, no patient identity.
    expect(res.body).not.toMatch(/null|""/);
    expect(res.body).not.toContain(PATIENT_NAME);
    const read = await get(new URL(entry.fullUrl).pathname);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(report);
  });

  it('returns an empty Bundle for an unknown study and 400 without one', async () => {
    const empty = (await get('/fhir/DiagnosticReport?study=1.2.3.4')).json();
    expect(empty).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] });
    expect((await get('/fhir/DiagnosticReport')).statusCode).toBe(400);
    expect((await get('/fhir/DiagnosticReport/lumbar-999999')).statusCode).toBe(404);
  });
});
