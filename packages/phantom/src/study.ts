import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AxialClass, DiscLevel } from '@lumbar/core';
import { deterministicUid, mrImageDataset, writePart10 } from '@lumbar/dicom';
import { percentileWindow } from '@lumbar/imaging';
import { encodeGrayPng } from './png';
import { PhantomStyle, StudyPlan, SeriesPlan, planStudy } from './protocol';
import { RenderedSlice, renderSlice } from './render';
import { Rng } from './rng';

export interface StudyTruth {
  dir: string;
  studyInstanceUid: string;
  patientId: string;
  levels: Record<DiscLevel, AxialClass>;
  series: Array<{
    folder: string;
    kind: string;
    seriesInstanceUid: string;
    description: string;
    instances: number;
  }>;
}

/** Renders every slice of a planned series; `visit` receives each slice as soon as it is ready. */
export function renderSeries(
  plan: StudyPlan,
  sp: SeriesPlan,
  visit: (slice: RenderedSlice, index: number) => void,
): void {
  const rng = new Rng(`${plan.study.studyInstanceUid}/${sp.kind}/noise`);
  const b = () => rng.uniform(-0.12, 0.12);
  const bias = [b(), b(), -Math.abs(b())] as const;
  sp.planes.forEach((plane, i) => visit(renderSlice(plan.anatomy, plane, { ...sp.render, bias }, rng), i));
}

/** Writes one study as DICOM (one folder per series) plus a disc label mask PNG for every image. */
export function writeStudy(
  outDir: string,
  seed: string | number,
  index: number,
  style: PhantomStyle = 'classic',
): StudyTruth {
  const plan = planStudy(seed, index, style);
  const studyDir = join(outDir, plan.folder);
  const truth: StudyTruth = {
    dir: plan.folder,
    studyInstanceUid: plan.study.studyInstanceUid,
    patientId: plan.study.patientId,
    levels: plan.truth,
    series: [],
  };
  for (const sp of plan.series) {
    const seriesDir = join(studyDir, sp.folder);
    const maskDir = join(studyDir, 'masks', sp.folder);
    mkdirSync(seriesDir, { recursive: true });
    mkdirSync(maskDir, { recursive: true });
    renderSeries(plan, sp, (slice, i) => {
      const plane = sp.planes[i];
      const { lo, hi } = percentileWindow(slice.pixels);
      const name = `IM${String(i + 1).padStart(4, '0')}`;
      const ds = mrImageDataset(plan.study, sp.series, {
        sopInstanceUid: deterministicUid(plan.uidRoot, seed, index, 'instance', sp.kind, i),
        instanceNumber: i + 1,
        plane,
        pixels: slice.pixels,
        windowCenter: Math.round((lo + hi) / 2),
        windowWidth: Math.max(1, hi - lo),
      });
      writeFileSync(join(seriesDir, `${name}.dcm`), writePart10(ds));
      writeFileSync(join(maskDir, `${name}.png`), encodeGrayPng(slice.mask, plane.columns, plane.rows));
    });
    truth.series.push({
      folder: sp.folder,
      kind: sp.kind,
      seriesInstanceUid: sp.series.seriesInstanceUid,
      description: sp.series.seriesDescription,
      instances: sp.planes.length,
    });
  }
  return truth;
}
