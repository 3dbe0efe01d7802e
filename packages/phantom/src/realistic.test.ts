import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Anatomy, Disc, Sample, T, classify, planStudy } from '@lumbar/phantom';
import { hashTree } from '../../../test/helpers/files';

// The realistic style (docs/PHANTOM.md, "Realism"): its shapes, checked on the classifier of points (no rendering
// inside jest), and its determinism through the built CLI, as users run it.

/** The tissue at (a lateral, b posterior, u cranial) mm in the local frame of a disc. */
function at(an: Anatomy, d: Disc, a: number, b: number, u = 0): Sample {
  const out: Sample = { tissue: -1, disc: 0, frac: 0 };
  classify(an, an.x0 + a, d.cy + d.ny * b + d.ty * u, d.cz + d.nz * b + d.tz * u, out);
  return out;
}

/** Tissues met along a line in the disc's plane, from (a0, b0) to (a1, b1), 0.1 mm steps. */
function along(an: Anatomy, d: Disc, a0: number, b0: number, a1: number, b1: number): Set<number> {
  const seen = new Set<number>();
  const n = Math.ceil(Math.hypot(a1 - a0, b1 - b0) / 0.1);
  for (let i = 0; i <= n; i++) seen.add(at(an, d, a0 + ((a1 - a0) * i) / n, b0 + ((b1 - b0) * i) / n).tissue);
  return seen;
}

describe('realistic phantom style: shapes', () => {
  const plans = [0, 1, 2, 3].map((i) => planStudy('realistic-shapes', i, 'realistic'));

  it('keeps the classic anatomy, pathology and truth of the seed, and adds its own', () => {
    for (const p of plans) {
      const c = planStudy('realistic-shapes', p.index);
      expect(p.truth).toEqual(c.truth);
      expect(p.anatomy.discs.map((d) => [d.level, d.pathology, d.cy, d.height])).toEqual(
        c.anatomy.discs.map((d) => [d.level, d.pathology, d.cy, d.height]),
      );
      expect(c.anatomy.real).toBeUndefined();
      expect(p.anatomy.real).toBeDefined();
      expect(p.study.studyInstanceUid).not.toBe(c.study.studyInstanceUid);
    }
  });

  it('has a kidney-shaped disc: concave behind in the midline, convex at the sides', () => {
    for (const p of plans) {
      const d = p.anatomy.discs[2]; // L2-L3: always healthy
      expect(d.pathology).toBe('healthy');
      const hw = d.halfWidth;
      const hd = d.halfDepth;
      // the posterior margin at the midline lies in front of the margin a third of the way out
      const margin = (a: number) => {
        let b = 0;
        while (at(p.anatomy, d, a, b + 0.1).disc === d.label) b += 0.1;
        return b;
      };
      expect(margin(0)).toBeLessThan(margin(hw * 0.35) - 0.3);
      expect(margin(0)).toBeGreaterThan(hd * 0.6);
      // and the thecal sac fills the notch: CSF right behind the annulus
      expect(at(p.anatomy, d, 0, margin(0) + 0.3).tissue).toBe(T.Csf);
    }
  });

  it('has a nucleus that fades into the annulus', () => {
    const p = plans[0];
    const d = p.anatomy.discs[3];
    const centre = at(p.anatomy, d, 0, 0.12 * d.halfDepth);
    expect(centre.tissue).toBe(T.Nucleus);
    expect(centre.frac).toBe(1);
    const fracs = new Set<number>();
    for (let a = 0; a < d.halfWidth; a += 0.25) {
      const s = at(p.anatomy, d, a, 0.12 * d.halfDepth);
      if (s.tissue === T.Nucleus && s.frac! > 0 && s.frac! < 1) fracs.add(Math.round(s.frac! * 10));
    }
    expect(fracs.size).toBeGreaterThan(3);
  });

  it('has the canal contents at disc level: CSF, roots in the lateral recesses, epidural fat, ligamentum flavum', () => {
    for (const p of plans) {
      const an = p.anatomy;
      const d = an.discs[4];
      const bc = d.halfDepth + 2.5 + an.canal.halfDepth;
      expect(at(an, d, 0, bc).tissue).toBe(T.Csf);
      // traversing roots in front, to each side, inside the sac
      for (const side of [1, -1])
        expect(at(an, d, side * an.canal.halfWidth * 0.6, bc - an.canal.halfDepth * 0.5).tissue).toBe(T.Root);
      // behind the sac in the midline: CSF, then the dorsal epidural fat, then the flavum where its two bands meet
      const back = along(an, d, 0, bc, 0, bc + an.canal.halfDepth + 6);
      expect(back.has(T.EpiduralFat)).toBe(true);
      expect(back.has(T.Ligament)).toBe(true);
      // the flavum runs postero-laterally on both sides (a V), not as a flat band
      for (const side of [1, -1]) {
        const oblique = along(an, d, 0, bc, side * (an.canal.halfWidth + 6), bc + 1);
        expect(oblique.has(T.Ligament) || oblique.has(T.EpiduralFat)).toBe(true);
      }
    }
  });

  it('has facet joints with a curved joint space, and exiting roots in fat in the foramina', () => {
    for (const p of plans) {
      const an = p.anatomy;
      const d = an.discs[4];
      const sw = an.canal.halfWidth;
      const bc = d.halfDepth + 2.5 + an.canal.halfDepth;
      for (const side of [1, -1]) {
        // the facet region postero-lateral to the canal holds bone and joint fluid
        const seen = new Set<number>();
        for (let a = sw + 2; a < sw + 17; a += 0.2)
          for (let b = bc - 5; b < bc + 14; b += 0.2) seen.add(at(an, d, side * a, b).tissue);
        expect(seen.has(T.FacetFluid)).toBe(true);
        expect(seen.has(T.Cortex)).toBe(true);
        expect(seen.has(T.Marrow)).toBe(true);
        // joint fluid points are not on one straight line: the joint space is curved
        const pts: Array<[number, number]> = [];
        for (let a = sw + 2; a < sw + 17; a += 0.2)
          for (let b = bc - 5; b < bc + 14; b += 0.2)
            if (at(an, d, side * a, b).tissue === T.FacetFluid) pts.push([a, b]);
        const [ma, mb] = pts.reduce(([sa, sb], [a, b]) => [sa + a / pts.length, sb + b / pts.length], [0, 0]);
        let saa = 0;
        let sab = 0;
        let sbb = 0;
        for (const [a, b] of pts) {
          saa += (a - ma) ** 2;
          sab += (a - ma) * (b - mb);
          sbb += (b - mb) ** 2;
        }
        // smallest eigenvalue of the scatter: the spread off the best straight line
        const tr = saa + sbb;
        const det = saa * sbb - sab * sab;
        const lmin = tr / 2 - Math.sqrt((tr * tr) / 4 - det);
        expect(Math.sqrt(lmin / pts.length)).toBeGreaterThan(0.3);
        expect(at(an, d, side * (sw + 6.5), bc - 2).tissue).toBe(T.Root);
        expect(at(an, d, side * (sw + 6.5), bc - 5.5).tissue).toBe(T.EpiduralFat);
      }
    }
  });

  it('has a psoas beside the body, larger at L5 than at L4', () => {
    for (const p of plans) {
      const an = p.anatomy;
      const width = (level: number) => {
        const d = an.discs[level];
        // at body level just below the disc: from the body's side outwards along the psoas' axis
        let n = 0;
        for (let a = 0; a < 90; a += 0.5)
          if (at(an, d, a, -0.1 * d.halfDepth, -d.height / 2 - 4).tissue === T.Muscle) n++;
        return n / 2;
      };
      expect(width(4)).toBeGreaterThan(width(3));
      expect(width(3)).toBeGreaterThan(25);
    }
  });

  it('takes each vendor contrast and field from SPIDER, with a posterior surface coil', () => {
    for (let i = 0; i < 12; i++) {
      const p = planStudy('realistic-vendors', i, 'realistic');
      const t2 = p.series.find((s) => s.kind === 't2_sag')!;
      const te = t2.series.echoTime;
      if (p.study.manufacturer.startsWith('Philips')) expect([80, 120]).toContain(te);
      else if (p.study.manufacturer.startsWith('SIEMENS')) expect(te).toBeGreaterThanOrEqual(92);
      expect(t2.render.contrast).toMatchObject({ tr: t2.series.repetitionTime, te, realistic: {} });
      for (const s of p.series) {
        expect(s.render.coil).toBeDefined();
        expect(s.render.noise).toBeLessThan(0.004);
      }
      const ax = p.series.find((s) => s.kind === 't2_tra')!;
      expect(ax.render.coil!.length).toBeLessThan(t2.render.coil!.length * 1.2);
    }
  });
});

const CLI = join(__dirname, '..', '..', 'cli', 'dist', 'main.js');
function phantom(...args: string[]): string {
  return execFileSync(process.execPath, [CLI, 'phantom', ...args, '--quiet'], { encoding: 'utf8' });
}
describe('realistic phantom style: CLI', () => {
  const root = mkdtempSync(join(tmpdir(), 'phantom-realistic-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('gives the same bytes for the same seed and style, other bytes for the other style, the same truth', () => {
    phantom('--out', join(root, 'a'), '--studies', '1', '--seed', 'style-seed', '--style', 'realistic');
    phantom('--out', join(root, 'b'), '--studies', '1', '--seed', 'style-seed', '--style', 'realistic');
    phantom('--out', join(root, 'c'), '--studies', '1', '--seed', 'style-seed');
    const one = (d: string) => hashTree(join(root, d, 'study-0001'));
    expect(one('b')).toBe(one('a'));
    expect(one('c')).not.toBe(one('a'));
    const truth = (d: string) => JSON.parse(readFileSync(join(root, d, 'truth.json'), 'utf8'));
    expect(truth('a').style).toBe('realistic');
    expect(truth('c').style).toBeUndefined();
    expect(truth('a').studies[0].levels).toEqual(truth('c').studies[0].levels);
  });

  it('rejects an unknown style with exit code 2', () => {
    let status = 0;
    let stderr = '';
    try {
      phantom('--out', join(root, 'x'), '--style', 'glossy');
    } catch (err) {
      ({ status, stderr } = err as { status: number; stderr: string });
    }
    expect(status).toBe(2);
    expect(stderr).toMatch(/style/);
  });
});
