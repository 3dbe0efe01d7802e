import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DISC_LEVELS } from '@lumbar/core';
import {
  Dataset,
  ImagePlane,
  Vec3,
  dot,
  imagePlaneOf,
  pixelToPatient,
  planeNormal,
  readPart10,
  sub,
} from '@lumbar/dicom';
import { execFileSync } from 'node:child_process';
import { decodeGrayPng } from '@lumbar/phantom';
import { hashTree } from '../../../test/helpers/files';

// The generator runs as users run it: the built CLI in its own process (jest's sandbox makes the
// per-pixel rendering an order of magnitude slower, so the tests never render inside it).
const CLI = join(__dirname, '..', '..', 'cli', 'dist', 'main.js');
function phantom(...args: string[]): string {
  return execFileSync(process.execPath, [CLI, 'phantom', ...args], { encoding: 'utf8' });
}
async function generate(o: { out: string; studies: number; seed: string | number; mode?: 'dataset' }) {
  const out = phantom(
    o.mode === 'dataset' ? '--dataset' : '--out',
    o.out,
    '--studies',
    String(o.studies),
    '--seed',
    String(o.seed),
    '--quiet',
  );
  const m = /(\d+) images, (\d+) disc labels/.exec(out);
  return { samples: m ? Number(m[1]) : undefined, labels: m ? Number(m[2]) : undefined };
}

interface Image {
  file: string;
  ds: Dataset;
  plane: ImagePlane;
  mask: Uint8Array;
}
interface Series {
  folder: string;
  images: Image[];
}

function readStudy(dir: string): Series[] {
  return readdirSync(dir)
    .filter((f) => f !== 'masks')
    .sort()
    .map((folder) => ({
      folder,
      images: readdirSync(join(dir, folder))
        .filter((f) => f.endsWith('.dcm'))
        .sort()
        .map((f) => {
          const ds = readPart10(readFileSync(join(dir, folder, f)), f);
          const mask = decodeGrayPng(
            readFileSync(join(dir, 'masks', folder, f.replace('.dcm', '.png'))),
          ).pixels;
          return { file: f, ds, plane: imagePlaneOf(ds), mask };
        }),
    }));
}

/** Patient coordinates of every pixel of an image whose mask equals `label`. */
function maskPoints(img: Image, label: number): Vec3[] {
  const pts: Vec3[] = [];
  for (let i = 0; i < img.mask.length; i++) {
    if (img.mask[i] === label)
      pts.push(pixelToPatient(img.plane, Math.floor(i / img.plane.columns), i % img.plane.columns));
  }
  return pts;
}

const mean = (pts: Vec3[]): Vec3 => {
  const s = [0, 0, 0];
  for (const p of pts) for (let k = 0; k < 3; k++) s[k] += p[k] / pts.length;
  return s as unknown as Vec3;
};

const byKind = (series: Series[], re: RegExp) =>
  series.find((s) => re.test(String(s.images[0].ds.SeriesDescription)))!;

describe('phantom', () => {
  const root = mkdtempSync(join(tmpdir(), 'phantom-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  // Five studies cover every vendor naming, matrices, and several pathologies.
  let truth: { studies: Array<{ dir: string; studyInstanceUid: string; levels: Record<string, string> }> };
  beforeAll(async () => {
    await generate({ out: join(root, 'a'), studies: 5, seed: 'test-seed' });
    truth = JSON.parse(readFileSync(join(root, 'a', 'truth.json'), 'utf8'));
  });

  it('is deterministic: same seed, same bytes; another seed, other bytes', async () => {
    await generate({ out: join(root, 'b'), studies: 1, seed: 'test-seed' });
    await generate({ out: join(root, 'c'), studies: 1, seed: 'other-seed' });
    const one = (d: string) => hashTree(join(root, d, 'study-0001'));
    expect(one('b')).toBe(one('a'));
    expect(one('c')).not.toBe(one('a'));
  });

  it('writes truth.json with one class per reported level', () => {
    expect(truth.studies).toHaveLength(5);
    for (const s of truth.studies) {
      expect(Object.keys(s.levels)).toEqual(['L3-L4', 'L4-L5', 'L5-S1']);
      for (const c of Object.values(s.levels))
        expect(['healthy', 'bulge', 'central', 'left', 'right']).toContain(c);
      expect(s.studyInstanceUid).toMatch(/^2\.25\.\d+$/);
    }
  });

  it('follows a clinical lumbar protocol: localizer, sagittal T1 and T2, axial T2', () => {
    for (const s of truth.studies) {
      const series = readStudy(join(root, 'a', s.dir));
      expect(series).toHaveLength(4);
      const uids = new Set(series.flatMap((x) => x.images.map((i) => String(i.ds.FrameOfReferenceUID))));
      expect(uids.size).toBe(1);
      for (const x of series) {
        for (const img of x.images) {
          expect(img.ds.StudyInstanceUID).toBe(s.studyInstanceUid);
          expect(img.ds.SOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.4');
          expect(img.ds._meta).toMatchObject({ TransferSyntaxUID: '1.2.840.10008.1.2.1' });
          expect(img.ds.BitsAllocated).toBe(16);
          expect(String(img.ds.PatientName)).toMatch(/^PHANTOM\^/);
          expect(img.plane.rows).toBeGreaterThanOrEqual(256);
          expect(img.plane.rows).toBeLessThanOrEqual(512);
        }
      }
      const loc = byKind(series, /loc|survey/i);
      const t1 = byKind(series, /t1/i);
      const t2 = byKind(series, /t2.*sag|sag.*t2/i);
      const ax = byKind(series, /t2.*(tra|ax)|ax.*t2/i);
      expect(loc.images.length).toBe(3);
      for (const [x, lo, hi] of [
        [t1, 5, 20],
        [t2, 80, 130],
        [ax, 80, 130],
      ] as const) {
        const te = Number(x.images[0].ds.EchoTime);
        expect(te).toBeGreaterThanOrEqual(lo);
        expect(te).toBeLessThanOrEqual(hi);
        expect(Number(x.images[0].ds.RepetitionTime)).toBeGreaterThan(x === t1 ? 300 : 2500);
      }
      expect(Number(t1.images[0].ds.RepetitionTime)).toBeLessThan(1000);
      expect(t2.images.length).toBeGreaterThanOrEqual(11);
      const thick = Number(t2.images[0].ds.SliceThickness);
      expect(thick).toBeGreaterThanOrEqual(3);
      expect(thick).toBeLessThanOrEqual(4);
      // sagittal: normal along x; axial: normal mostly along z
      expect(Math.abs(planeNormal(t2.images[0].plane)[0])).toBeGreaterThan(0.99);
      expect(Math.abs(planeNormal(ax.images[0].plane)[2])).toBeGreaterThan(0.7);
      // the mid-sagittal T2 covers T12 to the sacrum: every disc from T12-L1 to L5-S1 is in its mask
      const mid = t2.images[Math.floor(t2.images.length / 2)];
      for (let label = 1; label <= 6; label++) expect(mid.mask.includes(label)).toBe(true);
    }
  });

  it('puts at least 3 axial slices through each reported disc, located on the sagittal images', () => {
    for (const s of truth.studies) {
      const series = readStudy(join(root, 'a', s.dir));
      const t2 = byKind(series, /t2.*sag|sag.*t2/i);
      const ax = byKind(series, /t2.*(tra|ax)|ax.*t2/i);
      const mid = t2.images[Math.floor(t2.images.length / 2)];
      // disc centres from the sagittal masks alone
      const centres = DISC_LEVELS.map((_, i) => mean(maskPoints(mid, i + 1)));
      const counts: Record<string, number> = {};
      for (const img of ax.images) {
        const n = planeNormal(img.plane);
        const dist = centres.map((c) => Math.abs(dot(sub(c, img.plane.position), n)));
        const nearest = dist.indexOf(Math.min(...dist));
        const level = DISC_LEVELS[nearest];
        // the slab of the slice cuts that disc on the sagittal: some of its mask pixels lie within it
        const half = Number(img.ds.SliceThickness) / 2;
        const inSlab = maskPoints(mid, nearest + 1).filter(
          (p) => Math.abs(dot(sub(p, img.plane.position), n)) <= half,
        );
        expect(inSlab.length).toBeGreaterThan(0);
        // and the axial mask shows that same disc, and only it
        const labels = new Set(img.mask.filter((v) => v > 0));
        expect([...labels].every((v) => v === nearest + 1)).toBe(true);
        counts[level] = (counts[level] ?? 0) + 1;
      }
      for (const level of ['L3-L4', 'L4-L5', 'L5-S1']) expect(counts[level]).toBeGreaterThanOrEqual(3);
    }
  });

  it('puts each herniation on the stated side in patient coordinates (+x is patient left)', () => {
    let checked = 0;
    for (const s of truth.studies) {
      const series = readStudy(join(root, 'a', s.dir));
      const ax = byKind(series, /t2.*(tra|ax)|ax.*t2/i);
      for (const [level, cls] of Object.entries(s.levels)) {
        const label = DISC_LEVELS.indexOf(level as (typeof DISC_LEVELS)[number]) + 1;
        // the axial slice with the largest cross-section of this disc
        const img = ax.images
          .map((i) => ({ i, n: i.mask.filter((v) => v === label).length }))
          .sort((a, b) => b.n - a.n)[0].i;
        const pts = maskPoints(img, label);
        const c = mean(pts);
        // the patient's posterior direction within the slice plane
        const n = planeNormal(img.plane);
        const post = sub([0, 1, 0], [n[0] * n[1], n[1] * n[1], n[2] * n[1]]);
        const depth = pts.map((p) => dot(sub(p, c), post));
        const maxDepth = Math.max(...depth);
        const back = pts.filter((_, k) => depth[k] > maxDepth - 4);
        const lateral = mean(back)[0] - c[0];
        if (cls === 'left') expect(lateral).toBeGreaterThan(2);
        else if (cls === 'right') expect(lateral).toBeLessThan(-2);
        else expect(Math.abs(lateral)).toBeLessThan(3);
        checked++;
      }
    }
    expect(checked).toBe(15);
  });

  it('writes the training layout with --dataset', async () => {
    const dir = join(root, 'ds');
    const res = await generate({ out: dir, studies: 2, seed: 'test-seed', mode: 'dataset' });
    const samples = readFileSync(join(dir, 'samples.csv'), 'utf8').trim().split('\n');
    const labels = readFileSync(join(dir, 'labels.csv'), 'utf8').trim().split('\n');
    expect(samples[0]).toBe(
      'sample,patient_id,study_uid,view,series,slice_index,image,mask,rows,cols,pixel_spacing_mm,level',
    );
    expect(labels[0]).toBe('sample,patient_id,view,level,mask_value,class');
    expect(samples.length - 1).toBe(res.samples);
    const views = new Set(samples.slice(1).map((r) => r.split(',')[3]));
    // the slices the pipeline looks at: the 5 central sagittal slices, the largest axial cuts of each disc
    for (const patient of new Set(samples.slice(1).map((r) => r.split(',')[1]))) {
      const rows = samples
        .slice(1)
        .map((r) => r.split(','))
        .filter((r) => r[1] === patient);
      expect(rows.filter((r) => r[3] === 'sagittal').length).toBeLessThanOrEqual(5);
      for (const level of ['L3-L4', 'L4-L5', 'L5-S1']) {
        expect(rows.filter((r) => r[3] === 'axial' && r[11] === level).length).toBeGreaterThanOrEqual(1);
      }
    }
    expect(views).toEqual(new Set(['sagittal', 'axial']));
    const t = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8'));
    const axialHerniated = new Map<string, string>();
    // labels agree with truth, and every image and mask exists with the same size
    for (const row of labels.slice(1)) {
      const [sample, , view, level, value, cls] = row.split(',');
      expect(DISC_LEVELS[Number(value) - 1]).toBe(level);
      const study = t.studies.find((x: { patientId: string }) => sample.startsWith(x.patientId));
      const stated = study.levels[level] ?? 'healthy';
      // a herniation counts only on the slices that show it (sagittal: the slices it reaches; axial: the slices
      // whose slab cuts it), elsewhere the disc reads healthy
      const herniated = ['central', 'left', 'right'].includes(stated);
      if (herniated) expect([stated, 'healthy']).toContain(cls);
      else expect(cls).toBe(stated);
      if (view === 'axial' && herniated) axialHerniated.set(`${sample.split('_')[0]}/${level}`, cls);
    }
    // herniated levels keep their class on their best axial cut (a slab that misses one altogether is rare)
    const shown = new Map<string, boolean>();
    for (const row of labels.slice(1)) {
      const [sample, , view, level, , cls] = row.split(',');
      const key = `${sample.split('_')[0]}/${level}`;
      if (view === 'axial' && axialHerniated.has(key))
        shown.set(key, (shown.get(key) ?? false) || cls !== 'healthy');
    }
    expect(shown.size).toBeGreaterThan(0);
    expect([...shown.values()].filter(Boolean).length / shown.size).toBeGreaterThanOrEqual(0.75);
    const first = samples[1].split(',');
    const img = decodeGrayPng(readFileSync(join(dir, first[6])));
    const mask = decodeGrayPng(readFileSync(join(dir, first[7])));
    expect([img.width, img.height]).toEqual([Number(first[9]), Number(first[8])]);
    expect([mask.width, mask.height]).toEqual([img.width, img.height]);
    expect(img.pixels.reduce((m, v) => Math.max(m, v), 0)).toBe(255);
  });

  it('rejects bad options with a sentence and exit code 2', () => {
    for (const args of [
      ['--out', join(root, 'x'), '--studies', '0'],
      ['--studies', '2'],
      ['--out', join(root, 'x'), '--dataset', join(root, 'y')],
    ]) {
      let status = 0;
      let stderr = '';
      try {
        phantom(...args);
      } catch (err) {
        ({ status, stderr } = err as { status: number; stderr: string });
      }
      expect(status).toBe(2);
      expect(stderr).toMatch(/^(lumbar: |error: ).+/);
    }
  });
});
