import { DICM, SR, PNG, useApiTest } from '../../helpers/api';

const suite = useApiTest();
const { studies, get } = suite;

// GET /studies/:id/seg, /sr and /key-images/:n.png.
describe('downloads', () => {
  it('serves the SEG per view, the SR and key images with their content types', async () => {
    const seg = await get(`/studies/${studies.b.id}/seg?view=sagittal`);
    expect(seg.statusCode).toBe(200);
    expect(seg.headers['content-type']).toBe('application/dicom');
    expect(seg.headers['content-disposition']).toBe('attachment; filename="seg-sagittal.dcm"');
    expect(seg.rawPayload.equals(DICM)).toBe(true);
    const sr = await get(`/studies/${studies.b.id}/sr`);
    expect(sr.statusCode).toBe(200);
    expect(sr.headers['content-type']).toBe('application/dicom');
    expect(sr.rawPayload.equals(SR)).toBe(true);
    const png = await get(`/studies/${studies.b.id}/key-images/1.png`);
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.equals(PNG)).toBe(true);
  });

  it('answers 404 for missing files and studies, 400 for a bad view', async () => {
    const cases: [string, number, RegExp][] = [
      [`/studies/${studies.b.id}/seg?view=axial`, 404, /file missing/],
      [`/studies/${studies.b.id}/key-images/2.png`, 404, /key image 2/],
      [`/studies/${studies.c.id}/seg?view=sagittal`, 404, /no analysis results/],
      [`/studies/${studies.c.id}/sr`, 404, /no analysis results/],
      ['/studies/999999/key-images/1.png', 404, /does not exist/],
      [`/studies/${studies.b.id}/seg?view=coronal`, 400, /view/],
      [`/studies/${studies.b.id}/seg`, 400, /view/],
      [`/studies/${studies.b.id}/key-images/0.png`, 400, /n/],
    ];
    for (const [url, status, message] of cases) {
      const res = await get(url);
      expect({ url, status: res.statusCode }).toEqual({ url, status });
      expect(res.json().message).toMatch(message);
    }
  });
});
