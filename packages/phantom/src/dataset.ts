import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DISC_LEVELS } from '@lumbar/core';
import { toUint8 } from '@lumbar/imaging';
import { encodeGrayPng } from './png';
import { planStudy } from './protocol';
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
export function writeDatasetStudy(outDir: string, seed: string | number, index: number): DatasetRows {
  const plan = planStudy(seed, index);
  const patient = plan.study.patientId;
  const samples: string[][] = [];
  const labels: string[][] = [];
  const series: StudyTruth['series'] = [];
  for (const sp of plan.series) {
    if (sp.kind !== 't2_sag' && sp.kind !== 't2_tra') continue;
    const view = sp.kind === 't2_sag' ? 'sagittal' : 'axial';
    const short = sp.kind === 't2_sag' ? 'sag_T2' : 'ax_T2';
    renderSeries(plan, sp, (slice, i) => {
      const present = new Set<number>();
      for (let p = 0; p < slice.mask.length; p++) if (slice.mask[p]) present.add(slice.mask[p]);
      if (view === 'sagittal' && present.size === 0) return;
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
      for (const value of [...present].sort((a, b) => a - b)) {
        const lv = DISC_LEVELS[value - 1];
        const cls = plan.anatomy.discs[value - 1].pathology;
        labels.push([sample, patient, view, lv, String(value), cls]);
      }
    });
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

export function prepareDatasetDir(outDir: string): void {
  mkdirSync(join(outDir, 'images'), { recursive: true });
  mkdirSync(join(outDir, 'masks'), { recursive: true });
}

export function csv(header: readonly string[], rows: string[][]): string {
  const esc = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [header.join(','), ...rows.map((r) => r.map(esc).join(','))].join('\n') + '\n';
}
