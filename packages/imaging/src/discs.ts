import { InputError } from '@lumbar/core';
import { labelComponents, type Component } from './components';
import type { Box, GrayImage } from './image';

/** Which classifier a crop is for; it decides which disc components the box is built around. */
export type View = 'axial' | 'sagittal';

/** Components smaller than a tenth of the largest are noise: keep area * 10 >= largest area. */
export const MIN_COMPONENT_FRACTION = 10;
export const BBOX_MARGIN_PERCENT_EACH_SIDE = 5;

/** 8-connected components of `mask > 0` with area * 10 >= the largest area, in OpenCV's order. */
export function discComponents(mask: GrayImage): Component[] {
  const comps = labelComponents(mask).components;
  if (comps.length === 0) return [];
  const largest = comps.reduce((m, c) => Math.max(m, c.area), 0);
  return comps.filter((c) => c.area * MIN_COMPONENT_FRACTION >= largest);
}

/** Lowest first: by centroid row descending; equal rows keep OpenCV's order (a stable sort). */
function lowestFirst(comps: Component[]): Component[] {
  return [...comps].sort((a, b) => b.cy - a.cy);
}

/**
 * The components a classifier crop is built around. axial: the largest (ties: the first in OpenCV's
 * order); sagittal: the two lowest by centroid row, normally L5-S1 and L4-L5 (one if only one is left).
 */
export function selectDiscComponents(mask: GrayImage, view: View): Component[] {
  const comps = discComponents(mask);
  if (comps.length === 0) return [];
  if (view === 'axial') {
    let best = comps[0];
    for (const c of comps) if (c.area > best.area) best = c;
    return [best];
  }
  if (view === 'sagittal') return lowestFirst(comps).slice(0, 2);
  throw new InputError(`unknown view ${JSON.stringify(view)}`);
}

/** Label map: 0 background, k = k-th kept disc component from the bottom (1 = lowest), fragments 0. */
export function levelsFromBottom(mask: GrayImage): GrayImage {
  const { labels, components } = labelComponents(mask);
  const largest = components.reduce((m, c) => Math.max(m, c.area), 0);
  const kept = components.filter((c) => c.area * MIN_COMPONENT_FRACTION >= largest);
  const level = new Uint8Array(components.length + 1);
  lowestFirst(kept).forEach((c, k) => (level[c.label] = Math.min(k + 1, 255)));
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = level[labels[i]];
  return { width: mask.width, height: mask.height, data: out };
}

/** 5 % of an extent, rounded half up: (extent + 10) // 20. */
export function marginPixels(extent: number): number {
  return Math.floor((extent + 10) / 20);
}

/**
 * Enlarges an inclusive box by 10 % in each dimension (5 % each side) and clamps it to the image
 * (cut at the border, not shifted): mx = (w + 10) // 20, X0 = max(0, x0 - mx), X1 = min(cols-1, x1 + mx).
 */
export function bboxWithMargin(box: Box, width: number, height: number): Box {
  const mx = marginPixels(box.x1 - box.x0 + 1);
  const my = marginPixels(box.y1 - box.y0 + 1);
  return {
    x0: Math.max(0, box.x0 - mx),
    y0: Math.max(0, box.y0 - my),
    x1: Math.min(width - 1, box.x1 + mx),
    y1: Math.min(height - 1, box.y1 + my),
  };
}

/** The crop box (inclusive, margin added) for `view`, or null when the mask holds no disc. */
export function discBbox(mask: GrayImage, view: View): Box | null {
  const comps = selectDiscComponents(mask, view);
  if (comps.length === 0) return null;
  const box = comps.reduce<Box>(
    (b, c) => ({
      x0: Math.min(b.x0, c.x0),
      y0: Math.min(b.y0, c.y0),
      x1: Math.max(b.x1, c.x1),
      y1: Math.max(b.y1, c.y1),
    }),
    comps[0],
  );
  return bboxWithMargin(box, mask.width, mask.height);
}
