import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { AXIAL_CLASSES, InputError, SAGITTAL_CLASSES } from '@lumbar/core';
import {
  AnalysisEngine,
  analysisSettingsFromFlags,
  confusion,
  loadStudyInput,
  quantiles,
} from '@lumbar/analysis';
import type { GrayImage } from '@lumbar/imaging';
import type { ModelSet } from '@lumbar/inference';
import { analyzeStudy, sagittalOnImage, segmentBatch } from '@lumbar/pipeline';
import { decodeGrayPng } from '@lumbar/phantom';

interface Truth {
  studies: Array<{ dir: string; levels: Record<string, string> }>;
}

/** Runs the whole pipeline on every study of a phantom folder and compares L4-L5 and L5-S1 with truth.json. */
export async function evaluatePhantom(dir: string, models: ModelSet) {
  const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as Truth;
  const t: string[] = [];
  const p: string[] = [];
  const load: number[] = [];
  const analyze: number[] = [];
  // every level the pipeline got wrong, so that a figure's misses can be looked up (scripts/axial-visibility.js)
  const errors: Array<{ study: string; level: string; truth: string; found: string }> = [];
  for (const s of truth.studies) {
    const t0 = performance.now();
    const loaded = await loadStudyInput(join(dir, s.dir));
    const t1 = performance.now();
    const r = await analyzeStudy(loaded.input, models);
    analyze.push(performance.now() - t1);
    load.push(t1 - t0);
    for (const l of r.levels) {
      t.push(s.levels[l.level]);
      p.push(l.diagnosis);
      if (l.diagnosis !== s.levels[l.level])
        errors.push({ study: s.dir, level: l.level, truth: s.levels[l.level], found: l.diagnosis });
    }
  }
  return {
    data: `${dir} (synthetic phantom, ${truth.studies.length} studies)`,
    // which models ran (the sagittal herniation probability comes from sagittalGrading when it is listed)
    models: Object.fromEntries(
      Object.entries(models).flatMap(([role, m]) => (m ? [[role, `${m.card.name} ${m.card.version}`]] : [])),
    ),
    levels: confusion(t, p, AXIAL_CLASSES),
    timingsMs: {
      readAndDecode: quantiles(load),
      analyze: quantiles(analyze),
      studyTotal: quantiles(load.map((x, i) => x + analyze[i])),
    },
    errors,
  };
}

const readGray = (file: string): GrayImage => {
  const { pixels, width, height } = decodeGrayPng(readFileSync(file));
  return { width, height, data: pixels };
};

/** The sagittal path on SPIDER's mid-sagittal PNGs against the herniation grades (IVD 1 = L5-S1, 2 = L4-L5). */
export async function evaluateSpider(dir: string, models: ModelSet, patients: Set<string> | null) {
  const grades = new Map<string, Map<number, boolean>>();
  const rows = readFileSync(join(dir, 'radiological_gradings.csv'), 'utf8').trim().split('\n');
  const head = rows[0].split(',');
  const [pi, ii, hi] = ['Patient', 'IVD label', 'Disc herniation'].map((k) => head.indexOf(k));
  for (const r of rows.slice(1)) {
    const f = r.split(',');
    if (!grades.has(f[pi])) grades.set(f[pi], new Map());
    grades.get(f[pi])!.set(Number(f[ii]), Number(f[hi]) === 1);
  }
  const t: string[] = [];
  const p: string[] = [];
  let skipped = 0;
  const classes = models.sagittalCls.card.output.classes;
  for (const f of readdirSync(join(dir, 'sagittal_t2'))
    .filter((x) => x.endsWith('.png'))
    .sort()) {
    const patient = f.split('_')[0];
    const g = grades.get(patient);
    if ((patients && !patients.has(patient)) || !g) continue;
    const l5s1 = g.get(1) === true;
    const l4l5 = g.get(2) === true;
    if (l5s1 && l4l5) {
      skipped++; // both herniated: no single sagittal class (as in training)
      continue;
    }
    const image = readGray(join(dir, 'sagittal_t2', f));
    const [mask] = await segmentBatch(models.sagittalSeg, [{ image }]);
    const r = await sagittalOnImage(image, mask, models.sagittalCls, 20);
    t.push(l5s1 ? 'L5-S1' : l4l5 ? 'L4-L5' : 'healthy');
    p.push(
      r.probabilities ? classes[r.probabilities.indexOf(Math.max(...r.probabilities))] : 'no discs found',
    );
  }
  return {
    data: `${dir}/sagittal_t2 (real, SPIDER CC BY 4.0)`,
    skippedBothHerniated: skipped,
    herniationLevel: confusion(t, p, SAGITTAL_CLASSES),
  };
}

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description(
      'measure the pipeline: phantom studies against truth.json, SPIDER sagittal slices against grades',
    )
    .option('--phantom <dir>', 'a folder written by `lumbar phantom --out`')
    .option('--spider <dir>', 'a SPIDER folder (sagittal_t2/ and radiological_gradings.csv)')
    .option(
      '--patients <file>',
      'SPIDER: only these patients (a split JSON with a "test" list, or one id per line)',
    )
    .option('--models <dir>', 'models folder (default: the shipped models/)')
    .action(async (o: { phantom?: string; spider?: string; patients?: string; models?: string }) => {
      if (!o.phantom && !o.spider) throw new InputError('give --phantom DIR and/or --spider DIR');
      const engine = await AnalysisEngine.open(analysisSettingsFromFlags({ models: o.models }));
      const models = engine.models;
      try {
        const out: Record<string, unknown> = {};
        if (o.phantom) out.phantom = await evaluatePhantom(o.phantom, models);
        if (o.spider)
          out.spider = await evaluateSpider(o.spider, models, o.patients ? readPatients(o.patients) : null);
        process.stdout.write(JSON.stringify(out) + '\n');
      } finally {
        await engine.close();
      }
    });
}

function readPatients(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  try {
    const j = JSON.parse(text) as { test?: string[] };
    // training/ split files name patients "<source>:<id>"; keep SPIDER's
    if (Array.isArray(j.test)) {
      return new Set(
        j.test
          .map(String)
          .flatMap((p) => (p.includes(':') ? (p.startsWith('spider:') ? [p.slice(7)] : []) : [p])),
      );
    }
  } catch {
    // one id per line
  }
  return new Set(text.split(/\s+/).filter(Boolean));
}
