import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AXIAL_MIN_AREA_FRACTION, AxialClass, DISC_LEVELS, SAGITTAL_CANDIDATES } from '@lumbar/core';
import type { Disc } from './anatomy';
import { toUint8 } from '@lumbar/imaging';
import { encodeGrayPng } from './png';
import { PhantomStyle, planStudy } from './protocol';
import type { RenderedSlice } from './render';
import { renderSeries, StudyTruth } from './study';

export const SAMPLE_COLUMNS = [
  'sample',
  'patient_id',
  'study_uid',
  'view',
  'series',
  'slice_index',
  'image',
  'mask',
  'rows',
  'cols',
  'pixel_spacing_mm',
  'level',
] as const;
export const LABEL_COLUMNS = ['sample', 'patient_id', 'view', 'level', 'mask_value', 'class'] as const;

export interface DatasetRows {
  truth: StudyTruth;
  samples: string[][];
  labels: string[][];
}

/**
 * Writes one study in the training layout of docs/DATASET-LAYOUT.md: the sagittal T2 slices that
 * show a disc and every axial T2 slice, as 8-bit PNG (windowed like the pipeline does), with masks.
 */
export function writeDatasetStudy(
  outDir: string,
  seed: string | number,
  index: number,
  style: PhantomStyle = 'classic',
): DatasetRows {
  const plan = planStudy(seed, index, style);
  const patient = plan.study.patientId;
  const samples: string[][] = [];
  const labels: string[][] = [];
  const series: StudyTruth['series'] = [];
  for (const sp of plan.series) {
    if (sp.kind !== 't2_sag' && sp.kind !== 't2_tra') continue;
    const view = sp.kind === 't2_sag' ? 'sagittal' : 'axial';
    const short = sp.kind === 't2_sag' ? 'sag_T2' : 'ax_T2';
    const kept: Array<{ slice: RenderedSlice; i: number; present: number[] }> = [];
    renderSeries(plan, sp, (slice, i) => {
      const present = new Set<number>();
      for (let p = 0; p < slice.mask.length; p++) if (slice.mask[p]) present.add(slice.mask[p]);
      if (view === 'sagittal' && (present.size === 0 || !centralSlice(i, sp.planes.length))) return;
      kept.push({ slice, i, present: [...present].sort((a, b) => a - b) });
    });
    for (const { slice, i, present } of view === 'axial' ? largestPerLevel(kept, sp.levels) : kept) {
      const plane = sp.planes[i];
      const sample = `${patient}_${short}_${String(i).padStart(2, '0')}`;
      const image = `images/${sample}.png`;
      const mask = `masks/${sample}.png`;
      writeFileSync(join(outDir, image), encodeGrayPng(toUint8(slice.pixels), plane.columns, plane.rows));
      writeFileSync(join(outDir, mask), encodeGrayPng(slice.mask, plane.columns, plane.rows));
      const level = sp.levels[i] ?? '';
      samples.push([
        sample,
        patient,
        plan.study.studyInstanceUid,
        view,
        short,
        String(i),
        image,
        mask,
        String(plane.rows),
        String(plane.columns),
        plane.spacing[0].toFixed(4),
        level,
      ]);
      for (const value of present) {
        const disc = plan.anatomy.discs[value - 1];
        const cls =
          view === 'sagittal'
            ? visibleClass(plan.anatomy.x0, disc, plane.position[0])
            : axialVisibleClass(disc, slice.herniationPixels[value] * plane.spacing[0] * plane.spacing[1]);
        labels.push([sample, patient, view, DISC_LEVELS[value - 1], String(value), cls]);
      }
    }
    series.push({
      folder: sp.folder,
      kind: sp.kind,
      seriesInstanceUid: sp.series.seriesInstanceUid,
      description: sp.series.seriesDescription,
      instances: sp.planes.length,
    });
  }
  return {
    truth: {
      dir: plan.folder,
      studyInstanceUid: plan.study.studyInstanceUid,
      patientId: patient,
      levels: plan.truth,
      series,
    },
    samples,
    labels,
  };
}

/** The sagittal slices the pipeline looks at: the SAGITTAL_CANDIDATES nearest the centre of the series. */
function centralSlice(i: number, n: number): boolean {
  const start = Math.max(0, Math.floor((n - SAGITTAL_CANDIDATES) / 2));
  return i >= start && i < start + SAGITTAL_CANDIDATES;
}

/**
 * Axial slices whose disc cross-section is at least AXIAL_MIN_AREA_FRACTION of the largest of their level
 * in the study (the pipeline's rule too): outer slices of a wedge-shaped disc cut only its anterior part
 * and show nothing of the posterior margin, where herniations are.
 */
function largestPerLevel<T extends { slice: RenderedSlice; i: number }>(
  kept: T[],
  levels: Array<string | null>,
): T[] {
  const area = (k: T) => {
    const label = DISC_LEVELS.indexOf(levels[k.i] as (typeof DISC_LEVELS)[number]) + 1;
    return k.slice.mask.reduce((n, v) => n + (v === label ? 1 : 0), 0);
  };
  const areas = kept.map(area);
  const largest = new Map<string | null, number>();
  kept.forEach((k, j) => largest.set(levels[k.i], Math.max(largest.get(levels[k.i]) ?? 0, areas[j])));
  return kept.filter(
    (k, j) => areas[j] > 0 && areas[j] >= AXIAL_MIN_AREA_FRACTION * largest.get(levels[k.i])!,
  );
}

/**
 * Smallest cross-section of herniated material (mm², at the slice centre) for an axial slice to show the
 * herniation: half of the smallest one the phantom makes (2 mm deep, sigma 4.5 mm: about 16 mm²).
 */
export const AXIAL_HERNIATION_MIN_MM2 = 8;

/**
 * The class of a disc as one axial slice shows it. A slab that leaves the disc through an endplate before its
 * posterior margin (thin or wedge-shaped discs, oblique slices) cuts none or only a sliver of a herniation: the
 * disc then looks like a non-herniated one there, and the slice is labelled healthy. Bulges show on every slice.
 */
function axialVisibleClass(d: Disc, herniationMm2: number): AxialClass {
  if (d.herniationDepth <= 0) return d.pathology;
  return herniationMm2 >= AXIAL_HERNIATION_MIN_MM2 ? d.pathology : 'healthy';
}

/**
 * The class of a disc as one sagittal slice shows it: a herniation counts on the slices it reaches
 * (where its protrusion is still at least 1.5 mm deep); elsewhere the disc looks like a non-herniated one.
 */
function visibleClass(x0: number, d: Disc, sliceX: number): AxialClass {
  if (d.herniationDepth <= 0) return d.pathology;
  const g = (sliceX - (x0 + d.herniationCentre)) / d.herniationSigma;
  return d.herniationDepth * Math.exp(-g * g) >= 1.5 ? d.pathology : 'healthy';
}

export function prepareDatasetDir(outDir: string): void {
  mkdirSync(join(outDir, 'images'), { recursive: true });
  mkdirSync(join(outDir, 'masks'), { recursive: true });
}

export function csv(header: readonly string[], rows: string[][]): string {
  const esc = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [header.join(','), ...rows.map((r) => r.map(esc).join(','))].join('\n') + '\n';
}
