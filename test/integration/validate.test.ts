// `lumbar validate` with the shipped models on phantom studies: a labels.csv written from truth.json, the
// figures of report.json against a direct count from the per-study findings.json, the HTML page rendered by
// headless Chromium against report.json, and one sentence and exit 2 for each kind of bad input.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ALGORITHM, AXIAL_CLASSES } from '@lumbar/core';
import { makeTmpDir, removeDir } from '../helpers/files';
import { cliMain, generatePhantom } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { repoRoot } from '../helpers/shared';

const validate = (...args: string[]) =>
  runTool(process.execPath, [cliMain, 'validate', ...args], { cwd: repoRoot, timeoutMs: 300_000 });

interface Truth {
  studies: Array<{
    dir: string;
    studyInstanceUid: string;
    patientId: string;
    levels: Record<string, string>;
    series: Array<{ kind: string; folder: string }>;
  }>;
}
interface Findings {
  levels: Array<{
    level: string;
    diagnosis: string;
    probabilities: Record<string, number>;
    reason: string | null;
  }>;
  algorithm: { name: string; version: string; models: Record<string, { name: string; version: string }> };
}
interface P {
  k: number;
  n: number;
  value: number | null;
}
interface Scope {
  scope: string;
  levels: number;
  determinate: number;
  confusion: { rows: string[]; columns: string[]; matrix: number[][] };
  herniation: {
    tp: number;
    fp: number;
    tn: number;
    fn: number;
    sensitivity: P;
    specificity: P;
    ppv: P;
    npv: P;
  };
  side: P;
  indeterminate: { rate: P; reasons: Array<{ reason: string; n: number }> };
  roc: { auc: number | null };
  plots: Record<string, string>;
}
interface Report {
  statement: string;
  date: string;
  algorithm: { name: string; version: string };
  models: Record<string, { name: string; version: string }>;
  studies: { n: number; analysed: number; failed: number };
  labels: { rows: number; scored: number; outsideScope: number };
  scopes: Scope[];
  cases: Array<{
    study: string;
    level: string;
    line: number;
    truth: string;
    predicted: string;
    keyImage: string | null;
  }>;
  perStudy: Array<{ study: string; findings: string | null; keyImages: string[] }>;
}

const HERNIATED = ['central', 'left', 'right'];
const STUDIES = 6;

/** The value at a dotted path of report.json ("scopes.0.herniation.sensitivity"). */
const at = (obj: unknown, p: string): unknown =>
  p.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);

const chromium = (): string => {
  for (const c of ['chromium', 'chromium-browser']) {
    try {
      execFileSync('which', [c], { stdio: 'pipe' });
      return c;
    } catch {
      // try the next name
    }
  }
  throw new Error(
    'headless Chromium is not installed: the report test renders index.html with it ' +
      '(bash scripts/setup.sh installs Debian\u2019s chromium; or apt-get install chromium)',
  );
};

describe('lumbar validate', () => {
  let tmp: string;
  let studies: string;
  let labels: string;
  let truth: Truth;
  let out: string;
  let run: Awaited<ReturnType<typeof validate>>;
  let report: Report;
  const csvLines: string[] = ['study_instance_uid,level,diagnosis,patient_id'];

  beforeAll(async () => {
    tmp = makeTmpDir('validate');
    studies = path.join(tmp, 'studies');
    await generatePhantom(studies, 15, STUDIES);
    truth = JSON.parse(readFileSync(path.join(studies, 'truth.json'), 'utf8')) as Truth;
    // one row per study and level, with the level spelled as a report would ("L4/L5"); the site's reader
    // disagrees with the phantom on the first study's L5-S1, so that one level is surely listed as wrong
    for (const s of truth.studies)
      for (const [level, dx] of Object.entries(s.levels)) {
        const label =
          s === truth.studies[0] && level === 'L5-S1' ? (dx === 'healthy' ? 'left' : 'healthy') : dx;
        csvLines.push([s.studyInstanceUid, level.replace('-', '/'), label, s.patientId].join(','));
      }
    // the last study lost its sagittal T2 series: it cannot be analysed, which the report says
    const last = path.join(studies, truth.studies[STUDIES - 1].dir);
    for (const series of truth.studies[STUDIES - 1].series.filter((x) => x.kind === 't2_sag'))
      rmSync(path.join(last, series.folder), { recursive: true });
    labels = path.join(tmp, 'labels.csv');
    writeFileSync(labels, csvLines.join('\n') + '\n');
    out = path.join(tmp, 'report');
    run = await validate('--studies', studies, '--labels', labels, '--out', out, '--site', 'Phantom General');
    if (run.code === 0) report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
  }, 600_000);
  afterAll(() => removeDir(tmp));

  it('runs every study and prints the figures with a progress line per study', () => {
    expect(run.code).toBe(0);
    for (let i = 1; i <= STUDIES; i++) expect(run.stderr).toContain(`validate: ${i}/${STUDIES} `);
    expect(run.stderr).toMatch(/no sagittal T2 series/);
    expect(run.stdout).toContain(
      `${ALGORITHM.name} ${ALGORITHM.version} site validation: ${STUDIES} studies`,
    );
    expect(run.stdout).toContain('A site measurement, not a regulatory clearance.');
    const all = report.scopes[0];
    const sens = all.herniation.sensitivity;
    expect(run.stdout).toContain(`herniation sensitivity ${sens.value!.toFixed(3)} `);
    expect(run.stdout).toContain(`${sens.k}/${sens.n}`);
  });

  it('reports figures that agree with a direct count from the findings', () => {
    expect(report.studies).toEqual({ n: STUDIES, analysed: STUDIES - 1, failed: 1, unlabelled: [] });
    const labelOf = (uid: string, level: string): string => {
      const row = csvLines.find((r) => r.startsWith(`${uid},${level.replace('-', '/')},`));
      return row!.split(',')[2];
    };
    expect(report.labels.rows).toBe(csvLines.length - 1);
    expect(report.algorithm).toEqual({ name: ALGORITHM.name, version: ALGORITHM.version });
    expect(report.statement).toMatch(/not a regulatory clearance/);
    const columns = [...AXIAL_CLASSES, 'indeterminate'];
    const count = (levelFilter: (l: string) => boolean) => {
      const matrix = AXIAL_CLASSES.map(() => columns.map(() => 0));
      const h = { tp: 0, fp: 0, tn: 0, fn: 0 };
      let levels = 0;
      let indeterminate = 0;
      const wrong: string[] = [];
      for (const s of truth.studies) {
        const file = path.join(out, 'studies', s.dir, 'findings.json');
        // a study that could not be analysed: no findings.json, every reported level indeterminate
        const f: Findings = existsSync(file)
          ? (JSON.parse(readFileSync(file, 'utf8')) as Findings)
          : {
              levels: ['L4-L5', 'L5-S1'].map((level) => ({
                level,
                diagnosis: 'indeterminate',
                probabilities: {},
                reason: null,
              })),
              algorithm: { name: '', version: '', models: report.models },
            };
        expect(existsSync(file)).toBe(s !== truth.studies[STUDIES - 1]);
        expect(f.algorithm.models).toEqual(report.models);
        for (const l of f.levels.filter((x) => levelFilter(x.level))) {
          const t = labelOf(s.studyInstanceUid, l.level);
          levels++;
          matrix[AXIAL_CLASSES.indexOf(t as never)][columns.indexOf(l.diagnosis)]++;
          if (l.diagnosis !== t) wrong.push(`${s.dir} ${l.level}`);
          if (l.diagnosis === 'indeterminate') {
            indeterminate++;
            continue;
          }
          const ht = HERNIATED.includes(t);
          const hp = HERNIATED.includes(l.diagnosis);
          if (ht && hp) h.tp++;
          else if (ht) h.fn++;
          else if (hp) h.fp++;
          else h.tn++;
        }
      }
      return { matrix, h, levels, indeterminate, wrong };
    };
    for (const scope of report.scopes) {
      const c = count((l) => scope.scope === 'all levels' || l === scope.scope);
      expect(scope.levels).toBe(c.levels);
      expect(scope.confusion.columns).toEqual(columns);
      expect(scope.confusion.matrix).toEqual(c.matrix);
      const { tp, fp, tn, fn, sensitivity, specificity, ppv, npv } = scope.herniation;
      expect({ tp, fp, tn, fn }).toEqual(c.h);
      expect(sensitivity).toMatchObject({ k: c.h.tp, n: c.h.tp + c.h.fn });
      expect(specificity).toMatchObject({ k: c.h.tn, n: c.h.tn + c.h.fp });
      expect(ppv).toMatchObject({ k: c.h.tp, n: c.h.tp + c.h.fp });
      expect(npv).toMatchObject({ k: c.h.tn, n: c.h.tn + c.h.fn });
      if (sensitivity.n) expect(sensitivity.value).toBeCloseTo(c.h.tp / (c.h.tp + c.h.fn), 12);
      expect(scope.determinate).toBe(c.levels - c.indeterminate);
      expect(scope.indeterminate.rate).toMatchObject({ k: c.indeterminate, n: c.levels });
      if (scope.scope === 'all levels') {
        // the pipeline reports L4-L5 and L5-S1: the phantom's L3-L4 rows are counted, not scored
        expect(report.labels.scored).toBe(c.levels);
        expect(report.labels.outsideScope).toBe(report.labels.rows - c.levels);
        expect(report.cases.map((x) => `${x.study} ${x.level}`).sort()).toEqual(c.wrong.sort());
        expect(c.wrong).toContain(`${truth.studies[0].dir} L5-S1`);
        expect(scope.indeterminate.reasons).toContainEqual({
          reason: 'the study could not be analysed',
          n: 2,
        });
      }
    }
    expect(report.scopes.map((s) => s.scope)).toEqual(['all levels', 'L4-L5', 'L5-S1']);
    for (const c of report.cases) {
      expect(csvLines[c.line - 1]).toContain(`,${c.truth},`);
      if (c.study === truth.studies[STUDIES - 1].dir) continue; // no key image: the study failed
      expect(c.keyImage).not.toBeNull();
      expect(existsSync(path.join(out, c.keyImage!))).toBe(true);
    }
  });

  it('writes a page that headless Chromium renders with every figure of report.json', async () => {
    const browser = chromium();
    const index = path.join(out, 'index.html');
    const dom = await runTool(
      browser,
      ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${index}`],
      { timeoutMs: 120_000 },
    );
    expect(dom.code).toBe(0);
    const html = dom.stdout;
    expect(html).toContain('A site measurement, not a clearance.');
    expect(html).toContain(`${ALGORITHM.name} ${ALGORITHM.version}`);
    for (const m of Object.values(report.models)) expect(html).toContain(`${m.name} ${m.version}`);
    expect(html).toContain(report.date);
    expect(html).toContain('Phantom General');
    // every figure on the page is the one in report.json
    const figures = new Map<string, string>();
    for (const m of html.matchAll(/<(td|span)[^>]*data-figure="([^"]+)"[^>]*>([\s\S]*?)<\/\1>/g))
      figures.set(
        m[2],
        m[3]
          .replace(/<[^>]+>/g, '')
          .replace(/&amp;/g, '&')
          .trim(),
      );
    expect(figures.size).toBeGreaterThan(100);
    for (const [p, text] of figures) {
      const v = at(report, p);
      if (v !== null && typeof v === 'object' && 'k' in v) {
        const q = v as P;
        expect(text.startsWith(q.value === null ? 'n/a' : q.value.toFixed(3))).toBe(true);
        expect(text).toContain(`${q.k}/${q.n}`);
      } else if (typeof v === 'number') {
        expect([String(v), v.toFixed(3)].some((s) => text.startsWith(s))).toBe(true);
      } else if (v === null) {
        expect(text.startsWith('n/a')).toBe(true);
      } else {
        expect(text).toBe(String(v));
      }
    }
    report.scopes.forEach((s, i) => {
      for (const k of ['sensitivity', 'specificity', 'ppv', 'npv'])
        expect(figures.has(`scopes.${i}.herniation.${k}`)).toBe(true);
      for (const k of ['side', 'indeterminate.rate', 'roc.auc', 'calibration.brier'])
        expect(figures.has(`scopes.${i}.${k}`)).toBe(true);
      s.confusion.matrix.forEach((row, r) =>
        row.forEach((_, c) =>
          expect(figures.get(`scopes.${i}.confusion.matrix.${r}.${c}`)).toBe(String(row[c])),
        ),
      );
    });
    expect(figures.get('studies.n')).toBe(String(STUDIES));
    // every image the page shows is there: the plots (PNG) and the key images of the listed levels
    const images = [...html.matchAll(/<img[^>]*src="([^"]+)"/g)].map((m) => m[1]);
    expect(images.length).toBeGreaterThanOrEqual(3 * report.scopes.length);
    for (const src of images) {
      const file = path.join(out, decodeURIComponent(src));
      expect(existsSync(file)).toBe(true);
      expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
    }
    for (const s of report.scopes) for (const p of Object.values(s.plots)) expect(images).toContain(p);
    // and it paints: a screenshot of the page
    const shot = path.join(tmp, 'shot.png');
    await runTool(
      browser,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--window-size=1280,2000',
        `--screenshot=${shot}`,
        `file://${index}`,
      ],
      { timeoutMs: 120_000 },
    );
    expect(readFileSync(shot).length).toBeGreaterThan(20_000);
  }, 300_000);

  describe('bad input: one sentence, exit 2, no report', () => {
    const bad = async (csv: string | null, studiesDir: string | null, expected: RegExp) => {
      const file = path.join(tmp, `bad-${Math.random().toString(36).slice(2)}.csv`);
      writeFileSync(file, csv ?? csvLines.join('\n') + '\n');
      const badOut = path.join(tmp, `bad-out-${Math.random().toString(36).slice(2)}`);
      const r = await validate('--studies', studiesDir ?? studies, '--labels', file, '--out', badOut);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(expected);
      expect(existsSync(badOut)).toBe(false);
      return file;
    };

    it('an empty studies folder', async () => {
      const empty = path.join(tmp, 'empty');
      mkdirSync(empty);
      await bad(
        null,
        empty,
        /^lumbar: .*empty: empty folder: expected one sub-folder of DICOM files per study\n$/,
      );
    });

    it('a CSV naming a study that is not in the folder', async () => {
      const line = csvLines.length + 1;
      await bad(
        [...csvLines, '1.2.826.0.1.3680043.9.99,L4-L5,healthy,'].join('\n'),
        null,
        new RegExp(
          `^lumbar: .*\\.csv:${line}: study 1\\.2\\.826\\.0\\.1\\.3680043\\.9\\.99 is not in the studies folder\\n$`,
        ),
      );
    });

    it('an unknown class', async () => {
      const rows = [...csvLines];
      rows[3] = rows[3].replace(/,(healthy|bulge|central|left|right),/, ',herniated,');
      await bad(
        rows.join('\n'),
        null,
        /^lumbar: .*\.csv:4: unknown class "herniated" in diagnosis \(expected one of healthy, bulge, central, left, right\)\n$/,
      );
    });

    it('an unknown level', async () => {
      const rows = [...csvLines];
      rows[2] = rows[2].replace(/,L\d\/[LS]\d,/, ',L6-S1,');
      await bad(
        rows.join('\n'),
        null,
        /^lumbar: .*\.csv:3: unknown level "L6-S1" \(expected one of T12-L1, .*\)\n$/,
      );
    });
  });
});
