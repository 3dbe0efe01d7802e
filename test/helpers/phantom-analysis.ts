// An AnalysisResult built by hand from a phantom study's ground truth (its disc label maps and truth.json),
// for testing the DICOM writers with realistic masks without depending on trained models.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { AXIAL_CLASSES, DISC_LEVELS, discLabel, type AxialClass, type DiscLevel } from '@lumbar/core';
import { readFrames, readPart10 } from '@lumbar/dicom';
import { toUint8, type GrayImage } from '@lumbar/imaging';
import {
  summarise,
  type AnalysisResult,
  type Diagnosis,
  type KeyImage,
  type LevelFinding,
} from '@lumbar/pipeline';

export interface PhantomTruth {
  levels: Record<string, Diagnosis>;
  series: Array<{ folder: string; kind: string; seriesInstanceUid: string }>;
}

interface Slice {
  file: string;
  sopInstanceUid: string;
  mask: GrayImage;
}

function readMask(file: string): GrayImage {
  const png = PNG.sync.read(readFileSync(file));
  const data = new Uint8Array(png.width * png.height);
  for (let i = 0; i < data.length; i++) data[i] = png.data[i * 4];
  return { width: png.width, height: png.height, data };
}

function slicesOf(studyDir: string, folder: string): Slice[] {
  return readdirSync(path.join(studyDir, folder))
    .filter((f) => f.endsWith('.dcm'))
    .sort()
    .map((f) => {
      const file = path.join(studyDir, folder, f);
      const ds = readPart10(readFileSync(file), file, { headerOnly: true });
      return {
        file,
        sopInstanceUid: String(ds.SOPInstanceUID),
        mask: readMask(path.join(studyDir, 'masks', folder, f.replace(/\.dcm$/, '.png'))),
      };
    });
}

const count = (m: GrayImage, label: number) => m.data.reduce((n, v) => n + (v === label ? 1 : 0), 0);
const only = (m: GrayImage, label: number): GrayImage => ({
  ...m,
  data: m.data.map((v) => (v === label ? v : 0)),
});

/** Probabilities that favour the true class, as a confident classifier would give them. */
function probabilities(truth: Diagnosis): Record<AxialClass, number> {
  return Object.fromEntries(AXIAL_CLASSES.map((c) => [c, c === truth ? 0.8 : 0.05])) as Record<
    AxialClass,
    number
  >;
}

async function image8(file: string): Promise<GrayImage> {
  const [f] = await readFrames({ file });
  return { width: f.columns, height: f.rows, data: toUint8(f.pixels) };
}

/**
 * The sagittal T2 slice with the most disc pixels carries every disc label; each axial T2 slice is assigned to
 * the reported level (L4-L5, L5-S1) whose disc it shows most of, its mask restricted to that disc.
 */
export async function phantomAnalysis(
  studyDir: string,
  truth: PhantomTruth,
): Promise<{ result: AnalysisResult; sourceFiles: string[]; series: { sagittal: string; axial: string } }> {
  const sagSeries = truth.series.find((s) => s.kind === 't2_sag')!;
  const axSeries = truth.series.find((s) => s.kind === 't2_tra')!;
  const sag = slicesOf(studyDir, sagSeries.folder);
  const ax = slicesOf(studyDir, axSeries.folder);
  const mid = sag.reduce((a, b) => (count(b.mask, 0) < count(a.mask, 0) ? b : a));
  const reported: DiscLevel[] = ['L4-L5', 'L5-S1'];
  const axial = ax
    .map((s) => ({ s, level: reported.find((l) => count(s.mask, discLabel(l)) > 50) }))
    .filter((x): x is { s: Slice; level: DiscLevel } => x.level !== undefined);
  const levels: LevelFinding[] = reported.map((level) => {
    const diagnosis = truth.levels[level];
    return {
      level,
      diagnosis,
      probabilities: probabilities(diagnosis),
      reason: null,
      evidence: {
        sagittal: {
          sopInstanceUid: mid.sopInstanceUid,
          herniationProbability: ['central', 'left', 'right'].includes(diagnosis) ? 0.9 : 0.1,
          centroid: [0, 0],
        },
        axial: axial
          .filter((a) => a.level === level)
          .map((a) => ({
            sopInstanceUid: a.s.sopInstanceUid,
            frame: 0,
            distanceMm: 0,
            discAreaMm2: count(a.s.mask, discLabel(level)),
            probabilities: probabilities(diagnosis),
          })),
      },
    };
  });
  const keyImages: KeyImage[] = [
    {
      title: 'mid-sagittal T2, discs by level',
      sopInstanceUid: mid.sopInstanceUid,
      image: await image8(mid.file),
      mask: mid.mask,
      box: null,
    },
  ];
  for (const level of reported) {
    const a = axial.find((x) => x.level === level);
    if (a) {
      keyImages.push({
        title: `axial T2 through ${level}`,
        sopInstanceUid: a.s.sopInstanceUid,
        image: await image8(a.s.file),
        mask: only(a.s.mask, discLabel(level)),
        box: null,
      });
    }
  }
  const result: AnalysisResult = {
    studyInstanceUid: String(
      readPart10(readFileSync(mid.file), mid.file, { headerOnly: true }).StudyInstanceUID,
    ),
    levels,
    summary: summarise(levels),
    discs: DISC_LEVELS.filter((l) => count(mid.mask, discLabel(l)) > 0).map((level) => ({
      level,
      centroid: [0, 0],
      areaMm2: 0,
    })),
    sagittalProbabilities: null,
    gradings: [],
    keyImages,
    masks: [
      { sopInstanceUid: mid.sopInstanceUid, frame: 0, view: 'sagittal', levels: { all: mid.mask } },
      ...axial.map((a) => ({
        sopInstanceUid: a.s.sopInstanceUid,
        frame: 0,
        view: 'axial' as const,
        levels: { [a.level]: only(a.s.mask, discLabel(a.level)) },
      })),
    ],
    models: {
      sagittalSeg: { name: 'sag-seg-unet', version: 'test' },
      axialSeg: { name: 'ax-seg-unet', version: 'test' },
      sagittalCls: { name: 'sag-cls-discnet', version: 'test' },
      axialCls: { name: 'ax-cls-discnet', version: 'test' },
    },
    warnings: [],
    timingsMs: {},
  };
  return {
    result,
    sourceFiles: [...sag, ...ax].map((s) => s.file),
    series: { sagittal: sagSeries.seriesInstanceUid, axial: axSeries.seriesInstanceUid },
  };
}
