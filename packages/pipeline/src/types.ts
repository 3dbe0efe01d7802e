import type { AxialClass, DiscLevel, GradingProbabilities } from '@lumbar/core';
import type { ImagePlane } from '@lumbar/dicom';
import type { Box, GrayImage } from '@lumbar/imaging';

/** A level's finding: an axial class, or indeterminate (fuse.ts). */
export type Diagnosis = AxialClass | 'indeterminate';

/** How the axial slices of one level make one probability per class (FusionPolicy.axialAggregate). */
export type AxialAggregate = 'mean' | 'max-herniation';

/**
 * Out-of-distribution check for axial disc crops (models/ax-ood/ood.json, written by `python -m training.ood fit`;
 * the same features and score as training/ood.py, parity-tested in test/parity/ood.test.ts).
 *
 * Features: the 64x64 crop before CLAHE (`DiscCrop.resized`) resized to size x size (16) by the integer bilinear
 * rule, / 255, row-major. Score: the squared Mahalanobis distance under a probabilistic PCA of the training
 * crops, divided by the dimension D:
 *   d = x - mean; z_i = components_i . d; r = d - sum_i z_i components_i;
 *   score = (sum_i z_i^2 / variances_i + |r|^2 / residualVariance) / D
 * A crop scoring above `threshold` (the 0.99 quantile on held-out in-distribution crops) is out of distribution.
 */
export interface OodModel {
  /** For findings.json's model list: { name: 'ax-ood', version }. */
  card: { name: string; version: string };
  /** Side of the feature image (16). */
  size: number;
  mean: readonly number[];
  components: ReadonlyArray<readonly number[]>;
  variances: readonly number[];
  residualVariance: number;
  threshold: number;
}

/** What each classified axial slice carries (AxialEvidence.ood). */
export interface OodResult {
  score: number;
  threshold: number;
  outOfDistribution: boolean;
}

/**
 * The axial slice gate on one slice (models/ax-slice-gate, training/slice_gate.py): P(the slice cuts a vertebral
 * body or an endplate, not a disc) and P(T2-weighted), with the card's thresholds. A slice at or above the
 * not-disc threshold is dropped before classification; a slice below the T2 threshold is out of distribution
 * (the classifiers learnt T2 slices only).
 */
export interface GateResult {
  notDisc: number;
  t2: number;
  notDiscThreshold: number;
  t2Threshold: number;
  /** t2 < t2Threshold: not T2-weighted, so unlike the training data. */
  notT2: boolean;
}

/** One decoded slice with its geometry, as the pipeline receives it (no I/O here). */
export interface SliceInput {
  sopInstanceUid: string;
  frame: number;
  plane: ImagePlane;
  /** SliceThickness in mm (a default applies when the object has none). */
  thickness: number;
  /** Modality values, row-major, plane.rows x plane.columns. */
  pixels: ArrayLike<number>;
}

export interface StudyInput {
  studyInstanceUid: string;
  sagittal: SliceInput[];
  axial: SliceInput[];
}

/** A model as the pipeline sees it: its card (classes, name, version) and a batch call (NCHW float32). */
export interface Predictor {
  card: {
    name: string;
    version: string;
    input?: { shape: Array<number | null> };
    output: {
      classes: string[];
      threshold?: number | null;
      upsample?: string | null;
      /** Grading models: the threshold of each binary task. */
      thresholds?: Record<string, number> | null;
    };
  };
  run(data: Float32Array, n: number): Promise<{ data: Float32Array; dims: readonly number[] }>;
}

export interface Models {
  sagittalSeg: Predictor;
  axialSeg: Predictor;
  sagittalCls: Predictor;
  axialCls: Predictor;
  /** The per-disc sagittal grader (models/sag-grading); optional: without it the node works as before. */
  sagittalGrading?: Predictor;
  /** The out-of-distribution check of axial crops (models/ax-ood/ood.json); optional: without it nothing changes. */
  axialOod?: OodModel;
  /**
   * The axial slice gate (models/ax-slice-gate): does a slice cut a disc, is it T2-weighted; optional: without it
   * nothing changes.
   */
  axialGate?: Predictor;
}

/** A slice shown to a person: the canonical 8-bit image, the disc mask and the classifier's box. */
export interface KeyImage {
  title: string;
  sopInstanceUid: string;
  image: GrayImage;
  mask: GrayImage;
  box: Box | null;
  /** Text drawn beside the discs (canonical pixels: the text ends at x, centred on row y). */
  labels?: Array<{ x: number; y: number; text: string }>;
}

export interface AxialEvidence {
  sopInstanceUid: string;
  frame: number;
  distanceMm: number;
  discAreaMm2: number;
  probabilities: Record<AxialClass, number>;
  /** The crop's out-of-distribution score (packages/pipeline/src/ood.ts); absent without models/ax-ood. */
  ood?: OodResult;
  /** The slice gate's probabilities (models/ax-slice-gate); absent without it. */
  gate?: GateResult;
}

/**
 * The sagittal grader (models/sag-grading, learnt from SPIDER's radiological grades) on one disc of the
 * mid-sagittal slice. Probabilities are per disc; `flags` compare them with the card's thresholds (chosen on
 * held-out real SPIDER patients).
 */
export interface DiscGrading extends GradingProbabilities {
  model: { name: string; version: string };
  sopInstanceUid: string;
  /** The disc's place from the bottom of the spine chain (1 = lowest, normally L5-S1). */
  fromBottom: number;
  pfirrmann: { grade: 1 | 2 | 3 | 4 | 5; distribution: [number, number, number, number, number] };
  flags: { herniation: boolean; bulging: boolean; narrowing: boolean };
}

export interface LevelFinding {
  level: DiscLevel;
  /** Per-disc sagittal grading; null when the grader is not installed or the disc was not found. */
  grading?: DiscGrading | null;
  diagnosis: Diagnosis;
  probabilities: Record<AxialClass, number>;
  reason: string | null;
  evidence: {
    sagittal: {
      sopInstanceUid: string;
      herniationProbability: number | null;
      centroid: readonly number[];
      /** The sagittal classifier's herniation probability for this level on each candidate slice. */
      perSlice?: Array<{ sopInstanceUid: string; herniationProbability: number | null }>;
    } | null;
    axial: AxialEvidence[];
  };
}

export interface AnalysisResult {
  studyInstanceUid: string;
  levels: LevelFinding[];
  summary: string;
  /** Discs found on the mid-sagittal slice, from the sacrum up. */
  discs: Array<{ level: DiscLevel; centroid: readonly number[]; areaMm2: number }>;
  sagittalProbabilities: Record<string, number> | null;
  /** The sagittal grader on every disc found on the mid-sagittal slice (L5-S1 up to T12-L1); empty without it. */
  gradings: Array<DiscGrading & { level: DiscLevel }>;
  keyImages: KeyImage[];
  /** Disc masks per source slice (uid -> mask in the slice's stored orientation), for the DICOM SEG. */
  masks: Array<{
    sopInstanceUid: string;
    frame: number;
    view: 'sagittal' | 'axial';
    levels: Record<string, GrayImage>;
  }>;
  models: Record<string, { name: string; version: string }>;
  warnings: string[];
  timingsMs: Record<string, number>;
  /** The classifiers' inputs, only when analyzeStudy was asked for them (AnalyzeOptions.captureInputs). */
  classifierInputs?: ClassifierInputs;
}

/**
 * The exact tensors the pipeline fed its classifiers for one study (`lumbar finetune` learns from them, so that
 * a site's fine-tuned models see the crops the node cuts): each row is one model input, C x H x W float32 in
 * the model's NCHW layout.
 */
export interface ClassifierInputs {
  /** One per classified axial slice (ax-cls-discnet's input: the 64x64 CLAHE crop, 3 identical channels). */
  axial: Array<{
    level: DiscLevel;
    sopInstanceUid: string;
    frame: number;
    /** The slice's disc area (AxialEvidence.discAreaMm2): the weight of its probabilities in its level. */
    discAreaMm2: number;
    tensor: Float32Array;
    shape: readonly [number, number, number];
  }>;
  /** One per graded disc of the mid-sagittal slice (sag-grading's input); empty without the grader. */
  grading: Array<{
    level: DiscLevel;
    fromBottom: number;
    sopInstanceUid: string;
    tensor: Float32Array;
    shape: readonly [number, number, number];
  }>;
}
