/** The algorithm identity written into every object we send to a PACS. */
export const ALGORITHM = {
  name: 'lumbar-ai',
  version: '0.5.0',
  manufacturer: 'lumbar-ai (open source)',
  disclaimer: 'Not for primary diagnosis: research use only until clinically validated.',
} as const;

/** The levels the product reports on, from the top down. */
export const DISC_LEVELS = ['T12-L1', 'L1-L2', 'L2-L3', 'L3-L4', 'L4-L5', 'L5-S1'] as const;
export type DiscLevel = (typeof DISC_LEVELS)[number];

/** Mask label value of a disc level (1 = T12-L1 ... 6 = L5-S1); 0 is background. */
export function discLabel(level: DiscLevel): number {
  return DISC_LEVELS.indexOf(level) + 1;
}

export const AXIAL_CLASSES = ['healthy', 'bulge', 'central', 'left', 'right'] as const;
export type AxialClass = (typeof AXIAL_CLASSES)[number];

export const SAGITTAL_CLASSES = ['healthy', 'L4-L5', 'L5-S1'] as const;
export type SagittalClass = (typeof SAGITTAL_CLASSES)[number];

/**
 * Slice choices shared by the pipeline and the phantom's training layout, so that the models learn from
 * the slices the pipeline shows them: the sagittal slices nearest the centre of the series, and the axial
 * slices whose disc cross-section is at least this fraction of the largest of their level.
 */
export const SAGITTAL_CANDIDATES = 5;
export const AXIAL_MIN_AREA_FRACTION = 0.6;
