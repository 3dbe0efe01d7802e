import type { GrayImage } from './image';

/** One 8-connected component of a binary mask (what cv2.connectedComponentsWithStats reports). */
export interface Component {
  /** 1-based label, in OpenCV's numbering order (see `labelComponents`). */
  readonly label: number;
  readonly area: number;
  readonly x0: number;
  readonly y0: number;
  /** Inclusive. */
  readonly x1: number;
  /** Inclusive. */
  readonly y1: number;
  /** Mean row index (centroid y). */
  readonly cy: number;
}

export interface Labelling {
  /** 0 = background, k = pixel of `components[k - 1]`. */
  readonly labels: Int32Array;
  readonly components: Component[];
}

function find(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

/** Provisional labels over one raster scan: union-find with the four already-seen 8-neighbours. */
function provisional(mask: GrayImage): {
  prov: Int32Array;
  parent: Int32Array;
  count: number;
  fg: Int32Array;
} {
  const { width: w, height: h, data } = mask;
  const prov = new Int32Array(w * h);
  const fg = new Int32Array(w * h); // indices of the foreground pixels, in raster order
  let n = 0;
  // A new label needs a background pixel on its left: at most ceil(w/2) per row.
  const parent = new Int32Array(((w + 1) >> 1) * h + 2);
  let count = 0;
  const union = (a: number, b: number): number => {
    const ra = find(parent, a);
    const rb = find(parent, b);
    if (ra === rb) return ra;
    const lo = Math.min(ra, rb);
    parent[Math.max(ra, rb)] = lo;
    return lo;
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!data[i]) continue;
      // The neighbours already scanned: left, up-left, up, up-right.
      let root = x > 0 ? prov[i - 1] : 0;
      if (y > 0) {
        const upLeft = x > 0 ? prov[i - w - 1] : 0;
        const upRight = x + 1 < w ? prov[i - w + 1] : 0;
        if (upLeft) root = root ? union(root, upLeft) : upLeft;
        if (prov[i - w]) root = root ? union(root, prov[i - w]) : prov[i - w];
        if (upRight) root = root ? union(root, upRight) : upRight;
      }
      if (root) root = find(parent, root);
      if (root === 0) {
        root = ++count;
        parent[root] = root;
      }
      prov[i] = root;
      fg[n++] = i;
    }
  }
  return { prov, parent, count, fg: fg.subarray(0, n) };
}

/**
 * 8-connected components of `mask > 0`, numbered the way OpenCV numbers them (what the Python side
 * uses): OpenCV scans 2x2 blocks (Spaghetti/BBDT), so components are ordered by the first 2x2 block
 * (block row y>>1, then block column x>>1) that holds one of their pixels, NOT by their first pixel in
 * plain raster order (a pixel at (x=0, y=1) comes before one at (x=5, y=0)).
 */
export function labelComponents(mask: GrayImage): Labelling {
  const { width: w, height: h } = mask;
  const { prov, parent, count, fg } = provisional(mask);
  // Per root: the first block key seen, plus stats.
  const key = new Float64Array(count + 1).fill(Infinity);
  const area = new Int32Array(count + 1);
  const x0 = new Int32Array(count + 1).fill(w);
  const y0 = new Int32Array(count + 1).fill(h);
  const x1 = new Int32Array(count + 1).fill(-1);
  const y1 = new Int32Array(count + 1).fill(-1);
  const sumY = new Float64Array(count + 1);
  const blocksPerRow = (w + 1) >> 1;
  for (let j = 0; j < fg.length; j++) {
    const i = fg[j];
    const x = i % w;
    const y = (i - x) / w;
    const r = find(parent, prov[i]);
    prov[i] = r;
    const k = (y >> 1) * blocksPerRow + (x >> 1);
    if (k < key[r]) key[r] = k;
    area[r]++;
    if (x < x0[r]) x0[r] = x;
    if (x > x1[r]) x1[r] = x;
    if (y < y0[r]) y0[r] = y;
    if (y > y1[r]) y1[r] = y;
    sumY[r] += y;
  }
  const roots: number[] = [];
  for (let r = 1; r <= count; r++) if (parent[r] === r) roots.push(r);
  roots.sort((a, b) => key[a] - key[b]);
  const finalOf = new Int32Array(count + 1);
  const components = roots.map((r, k): Component => {
    finalOf[r] = k + 1;
    return { label: k + 1, area: area[r], x0: x0[r], y0: y0[r], x1: x1[r], y1: y1[r], cy: sumY[r] / area[r] };
  });
  for (let j = 0; j < fg.length; j++) prov[fg[j]] = finalOf[prov[fg[j]]];
  return { labels: prov, components };
}
