import { DISC_LEVELS, SAGITTAL_CANDIDATES, type DiscLevel } from '@lumbar/core';
import { dot, pixelToPatient, planeNormal } from '@lumbar/dicom';
import {
  classifierInput,
  discPlaces,
  spineDiscs,
  type Box,
  type GrayImage,
  type SpineDisc,
} from '@lumbar/imaging';
import { CanonicalSlice, canonicalSlice, toStored } from './canonical';
import type { LabelledDisc } from './geometry';
import { gradeDiscs } from './grading';
import { segmentBatch } from './segment';
import type { DiscGrading, Models, Predictor, SliceInput } from './types';

/** Discs smaller than this on the mid-sagittal slice are not discs (mm^2; a lumbar disc is ~300). */
export const MIN_SAGITTAL_DISC_MM2 = 40;

/** A disc component on a canonical sagittal image (head up), with its level counted from the bottom. */
export interface ImageDisc {
  level: DiscLevel;
  /** Place from the bottom (1 = L5-S1); a gap in the chain skips a place (`discPlaces`). */
  place: number;
  component: SpineDisc;
  /** Centroid (x, y) in canonical pixels. */
  x: number;
  y: number;
}

export interface SagittalImageResult {
  /** Label map: each kept disc painted with its level's label value (1 T12-L1 .. 6 L5-S1). */
  levels: GrayImage;
  /** Every component of the mask by its label (`spineDiscs`; ImageDisc.component.label). */
  components: Int32Array;
  discs: ImageDisc[];
  probabilities: number[] | null;
  box: Box | null;
}

/**
 * The sagittal path on one canonical image and its disc mask: keep the discs of the spine's chain
 * (`spineDiscs`: disc-shaped components on the line of the spine, one per height, from the bottom up) that
 * have at least `minArea` pixels, label levels by their place from the bottom (L5-S1 lowest; a gap in the
 * chain skips a level), and classify the crop around the two lowest discs (healthy / L4-L5 / L5-S1).
 */
export async function sagittalOnImage(
  image: GrayImage,
  mask: GrayImage,
  classifier: Predictor,
  minArea = 1,
): Promise<SagittalImageResult> {
  const spine = spineDiscs(mask);
  const labels = spine.labels;
  const kept = spine.discs.filter((c) => c.area >= minArea);
  // places as spineDiscs gives them, unless the area rule dropped a disc (then counted again without it)
  const places = kept.length === spine.discs.length ? spine.places : discPlaces(kept);
  const fromBottom = [...DISC_LEVELS].reverse();
  const discs = kept.flatMap((c, i) =>
    places[i] <= fromBottom.length
      ? [{ level: fromBottom[places[i] - 1], place: places[i], component: c, x: c.cx, y: c.cy }]
      : [],
  );
  const value = new Uint8Array(spine.discs.length + spine.rejected.length + 1);
  for (const d of discs) value[d.component.label] = DISC_LEVELS.indexOf(d.level) + 1;
  const levels = { width: image.width, height: image.height, data: new Uint8Array(labels.length) };
  for (let i = 0; i < labels.length; i++) levels.data[i] = value[labels[i]];
  const input = discs.length >= 2 ? classifierInput(image, levels, 'sagittal') : null;
  const probabilities = input ? Array.from((await classifier.run(input.tensor.data, 1)).data) : null;
  return { levels, components: labels, discs, probabilities, box: input?.box ?? null };
}

export interface SagittalResult extends SagittalImageResult {
  slice: CanonicalSlice;
  /** The discs in patient coordinates. */
  located: LabelledDisc[];
  /** The classifier on every candidate slice: a paracentral herniation shows on a parasagittal slice. */
  perSlice: Array<{ sopInstanceUid: string; probabilities: number[] | null }>;
  /** The grader on each disc of the mid-sagittal slice, from the bottom up; null without the grader. */
  gradings: Array<DiscGrading & { level: DiscLevel }> | null;
  /** The grader's input of each graded disc (as `gradings`); only with SagittalStageOptions.capture. */
  gradingInputs?: Float32Array[];
}

export interface SagittalStageOptions {
  /** Keep the grader's inputs (SagittalResult.gradingInputs). */
  capture?: boolean;
}

/** The slices nearest the centre of the series, by position along the slice normal. */
export function centralSlices(slices: SliceInput[], k = SAGITTAL_CANDIDATES): SliceInput[] {
  if (slices.length === 0) return [];
  const n = planeNormal(slices[0].plane);
  const sorted = [...slices].sort((a, b) => dot(a.plane.position, n) - dot(b.plane.position, n));
  const start = Math.max(0, Math.floor((sorted.length - k) / 2));
  return sorted.slice(start, start + k);
}

/**
 * Sagittal stage: segment the central slices, keep the one with the most disc (the mid-sagittal), run
 * the sagittal path on it and place each disc in patient coordinates; grade its discs when the grader is
 * installed (one batched call).
 */
export async function sagittalStage(
  slices: SliceInput[],
  models: Models,
  opts: SagittalStageOptions = {},
): Promise<SagittalResult | null> {
  const cands = centralSlices(slices).map((s) => canonicalSlice(s, 'sagittal'));
  if (cands.length === 0) return null;
  const masks = await segmentBatch(models.sagittalSeg, cands);
  const areas = masks.map((m) => m.data.reduce((s, v) => s + v, 0));
  const best = areas.indexOf(Math.max(...areas));
  const slice = cands[best];
  const [sr, sc] = slice.input.plane.spacing;
  const minArea = Math.ceil(MIN_SAGITTAL_DISC_MM2 / (sr * sc));
  const all = await Promise.all(
    cands.map((c, i) => sagittalOnImage(c.image, masks[i], models.sagittalCls, minArea)),
  );
  const res = all[best];
  const spacingAlongRows = slice.orientation.transpose ? sc : sr;
  const located = res.discs.map((d) => {
    const [r, k] = toStored(slice, d.y, d.x);
    return {
      level: d.level,
      centroid: pixelToPatient(slice.input.plane, r, k),
      halfHeight: ((d.component.y1 - d.component.y0 + 1) * spacingAlongRows) / 2,
      areaMm2: d.component.area * sr * sc,
    };
  });
  const perSlice = all.map((r, i) => ({
    sopInstanceUid: cands[i].input.sopInstanceUid,
    probabilities: r.probabilities,
  }));
  let gradingInputs: Float32Array[] | undefined;
  const gradings = models.sagittalGrading
    ? (
        await gradeDiscs(
          models.sagittalGrading,
          slice.image,
          res.discs.map((d) => d.component),
          slice.input.sopInstanceUid,
          {
            labels: res.components,
            places: res.discs.map((d) => d.place),
            ...(opts.capture ? { onInputs: (x: Float32Array[]) => (gradingInputs = x) } : {}),
          },
        )
      ).map((g, k) => ({ level: res.discs[k].level, ...g }))
    : null;
  return {
    ...res,
    slice,
    located,
    perSlice,
    gradings,
    ...(opts.capture ? { gradingInputs: gradingInputs ?? [] } : {}),
  };
}
