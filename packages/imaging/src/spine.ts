import { labelComponents, type Component } from './components';
import { MIN_COMPONENT_FRACTION } from './discs';
import type { GrayImage } from './image';

/**
 * The discs of the spine on a sagittal disc mask, in order from the bottom (training/grading_discs.py
 * `spine_discs`, the same arithmetic: test/parity/spine.test.ts holds it). Every component of the U-Net's
 * mask used to be numbered from the bottom; a false positive in the bowel, the sacrum or beside a disc then
 * became "disc 1" and shifted every level above it. Only components that look like discs and lie on the
 * spine's chain are kept:
 *
 * 1. components: 8-connected, area * 10 >= the largest;
 * 2. shape (second moments): major axis >= 1.4 x the minor axis, within 65 degrees of horizontal;
 * 3. chain: a line x = a + b * y through the centroids (least squares), refitted after dropping the farthest
 *    component while it lies more than 1.0 x the median major axis from the line;
 * 4. one disc per height: of two components whose rows overlap by more than half of the shorter one, the
 *    larger stays;
 * 5. places: numbered from the bottom; with at least four discs, a gap of more than 1.6 S between neighbours
 *    (S = the median distance between neighbouring centroids) counts as a missed disc, so the discs above it
 *    keep their level.
 */

export const MIN_ELONGATION = 1.4;
export const MAX_TILT_DEG = 65.0;
export const CHAIN_TOLERANCE = 1.0;
export const ROW_OVERLAP = 0.5;
export const GAP_SPACING = 1.6;

/** A component with its shape (the fields of grading_discs.py `Disc`). */
export interface SpineDisc extends Component {
  /** Mean column index (centroid x). */
  readonly cx: number;
  /** Full length of the major axis: 4 * sqrt(largest eigenvalue of the second moments). */
  readonly major: number;
  readonly minor: number;
  /** Major axis angle from horizontal, degrees, -90..90. */
  readonly tilt: number;
}

export type SpineRejection = 'small' | 'round' | 'steep' | 'off the spine' | 'beside a larger disc';

export interface SpineDiscs {
  /** 0 = background, k = pixel of the component with label k (OpenCV's numbering, as `labelComponents`). */
  labels: Int32Array;
  /** The spine's discs from the bottom up (largest centroid row first). */
  discs: SpineDisc[];
  /** Every other component with the reason, in the order Python reports them. */
  rejected: Array<{ disc: SpineDisc; reason: SpineRejection }>;
  /** Each disc's place from the bottom (1 = lowest; a gap counts as a missed disc): `discPlaces(discs)`. */
  places: number[];
}

/**
 * numpy's sum of a contiguous float64 array (`np.add.reduce`: pairwise summation, blocks of at most 128
 * summed with 8 accumulators), so that the means below round exactly as Python's.
 */
export function pairwiseSum(a: Float64Array, start = 0, n = a.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const s = start;
    let r0 = a[s];
    let r1 = a[s + 1];
    let r2 = a[s + 2];
    let r3 = a[s + 3];
    let r4 = a[s + 4];
    let r5 = a[s + 5];
    let r6 = a[s + 6];
    let r7 = a[s + 7];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      r0 += a[s + i];
      r1 += a[s + i + 1];
      r2 += a[s + i + 2];
      r3 += a[s + i + 3];
      r4 += a[s + i + 4];
      r5 += a[s + i + 5];
      r6 += a[s + i + 6];
      r7 += a[s + i + 7];
    }
    // ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), as numpy adds them
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += a[s + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/** numpy's `a.mean()` for a float64 array. */
const mean = (a: Float64Array): number => (0 + pairwiseSum(a)) / a.length;

/** numpy's `np.median` of a short list (the mean of the two middle values when the count is even). */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (0 + s[m - 1] + s[m]) / 2;
}

const RAD_TO_DEG = 180 / Math.PI; // CPython's math.degrees multiplies by this constant

/** Centroid and second moments of one component's pixels (grading_discs.py `_moments`). */
function moments(
  xs: Float64Array,
  ys: Float64Array,
): Pick<SpineDisc, 'cx' | 'cy' | 'major' | 'minor' | 'tilt'> {
  const n = xs.length;
  const cx = mean(xs);
  const cy = mean(ys);
  const xx = new Float64Array(n);
  const yy = new Float64Array(n);
  const xy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - cx;
    const dy = ys[i] - cy;
    xx[i] = dx * dx;
    yy[i] = dy * dy;
    xy[i] = dx * dy;
  }
  const sxx = mean(xx);
  const syy = mean(yy);
  const sxy = mean(xy);
  const tr = sxx + syy;
  const det = sxx * syy - sxy * sxy;
  const disc = Math.sqrt(Math.max(0, (tr * tr) / 4 - det));
  const l1 = tr / 2 + disc;
  const l2 = Math.max(0, tr / 2 - disc);
  const tilt = 0.5 * (Math.atan2(2 * sxy, sxx - syy) * RAD_TO_DEG);
  return { cx, cy, major: 4 * Math.sqrt(l1), minor: 4 * Math.sqrt(l2), tilt };
}

/** Every 8-connected component of `mask > 0` with its shape, in OpenCV's order (grading_discs.py `components`). */
export function spineComponents(mask: GrayImage): { labels: Int32Array; components: SpineDisc[] } {
  const { labels, components } = labelComponents(mask);
  const w = mask.width;
  // each component's pixels in raster order (np.nonzero(labels == i)), packed one component after another
  const start = new Int32Array(components.length + 2);
  for (const c of components) start[c.label + 1] = c.area;
  for (let k = 1; k < start.length; k++) start[k] += start[k - 1];
  const fill = start.slice();
  const xs = new Float64Array(start[start.length - 1]);
  const ys = new Float64Array(xs.length);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!l) continue;
    const at = fill[l]++;
    const x = i % w;
    xs[at] = x;
    ys[at] = (i - x) / w;
  }
  const out = components.map((c): SpineDisc => {
    const m = moments(
      xs.subarray(start[c.label], start[c.label + 1]),
      ys.subarray(start[c.label], start[c.label + 1]),
    );
    return { ...c, ...m };
  });
  return { labels, components: out };
}

/** Least-squares line x = a + b * y through the centroids (grading_discs.py `_fit_line`). */
function fitLine(ds: SpineDisc[]): [number, number] {
  const ys = Float64Array.from(ds, (d) => d.cy);
  const xs = Float64Array.from(ds, (d) => d.cx);
  const my = mean(ys);
  const mx = mean(xs);
  const dyy = ys.map((y) => (y - my) * (y - my));
  const dxy = ys.map((y, i) => (y - my) * (xs[i] - mx));
  const v = 0 + pairwiseSum(dyy);
  const b = v > 0 ? (0 + pairwiseSum(dxy)) / v : 0;
  return [mx - b * my, b];
}

/** Rows shared by two components, more than ROW_OVERLAP of the shorter one's height. */
function sameHeight(c: SpineDisc, d: SpineDisc): boolean {
  const overlap = Math.min(c.y1, d.y1) - Math.max(c.y0, d.y0) + 1;
  return overlap > ROW_OVERLAP * Math.min(c.y1 - c.y0 + 1, d.y1 - d.y0 + 1);
}

/**
 * The place from the bottom of each disc of a chain ordered from the bottom (grading_discs.py `spine_discs`,
 * step 5): 1, 2, 3, ...; with at least four discs, a step more than GAP_SPACING x the median step between
 * neighbouring centroids skips a place (a disc the segmentation missed). The distances use Math.hypot, which
 * may differ from Python's math.hypot in the last bit: only a gap within an ulp of the limit could differ.
 */
export function discPlaces(discs: ReadonlyArray<{ cx: number; cy: number }>): number[] {
  if (discs.length < 4) return discs.map((_, i) => i + 1);
  const steps = discs.slice(1).map((b, i) => Math.hypot(discs[i].cx - b.cx, discs[i].cy - b.cy));
  const limit = GAP_SPACING * median(steps);
  const places = [1];
  for (const step of steps) places.push(places[places.length - 1] + (step > limit ? 2 : 1));
  return places;
}

/** The spine's discs from the bottom up, and every other component with the reason (grading_discs.py `spine_discs`). */
export function spineDiscs(mask: GrayImage): SpineDiscs {
  const { labels, components } = spineComponents(mask);
  const rejected: SpineDiscs['rejected'] = [];
  if (components.length === 0) return { labels, discs: [], rejected, places: [] };
  const largest = components.reduce((m, c) => Math.max(m, c.area), 0);
  const kept: SpineDisc[] = [];
  for (const c of components) {
    if (c.area * MIN_COMPONENT_FRACTION < largest) rejected.push({ disc: c, reason: 'small' });
    else if (c.major < MIN_ELONGATION * c.minor) rejected.push({ disc: c, reason: 'round' });
    else if (Math.abs(c.tilt) > MAX_TILT_DEG) rejected.push({ disc: c, reason: 'steep' });
    else kept.push(c);
  }
  while (kept.length >= 3) {
    const [a, b] = fitLine(kept);
    const tol = CHAIN_TOLERANCE * median(kept.map((c) => c.major));
    let worst = 0;
    let far = -Infinity;
    kept.forEach((c, i) => {
      const r = Math.abs(c.cx - (a + b * c.cy));
      if (r > far) [worst, far] = [i, r]; // the first of equal residuals, as np.argmax
    });
    if (far <= tol) break;
    rejected.push({ disc: kept.splice(worst, 1)[0], reason: 'off the spine' });
  }
  const lowestFirst = (x: SpineDisc, y: SpineDisc): number => y.cy - x.cy; // stable: equal rows keep their order
  kept.sort(lowestFirst);
  const out: SpineDisc[] = [];
  for (const c of kept) {
    const clash = out.find((d) => sameHeight(c, d));
    if (clash === undefined) out.push(c);
    else if (c.area > clash.area) {
      out[out.indexOf(clash)] = c;
      rejected.push({ disc: clash, reason: 'beside a larger disc' });
    } else rejected.push({ disc: c, reason: 'beside a larger disc' });
  }
  out.sort(lowestFirst);
  return { labels, discs: out, rejected, places: discPlaces(out) };
}
