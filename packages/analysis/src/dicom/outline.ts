import { labelComponents, type GrayImage } from '@lumbar/imaging';

/**
 * The outer outline of a mask's largest 8-connected component, for a SCOORD POLYLINE (PS3.3 C.18.6.1.2:
 * image coordinates, (0,0) the top left corner of the top left pixel): it follows the pixel edges, so the
 * polygon encloses exactly the component's pixels (holes ignored), then drops the points a straight line
 * through its neighbours passes within `tolerance` pixels of (the staircase of a slanted edge). Returned as
 * x0, y0, x1, y1, ... and closed (the first point repeated at the end); empty when the mask is empty.
 */
export function outline(mask: GrayImage, tolerance = 0.75): number[] {
  const { labels, components } = labelComponents(mask);
  if (components.length === 0) return [];
  const largest = components.reduce((a, b) => (b.area > a.area ? b : a));
  const w = mask.width;
  const h = mask.height;
  const inside = (x: number, y: number) =>
    x >= 0 && y >= 0 && x < w && y < h && labels[y * w + x] === largest.label;
  // start: the top left corner of the component's first pixel in raster order, heading east along its top edge
  let start = -1;
  for (let i = largest.y0 * w; i < labels.length && start < 0; i++)
    if (labels[i] === largest.label) start = i;
  const sx = start % w;
  const sy = (start - sx) / w;
  // Walk the pixel edges with the component on the right. At each corner try a left turn, then straight,
  // then a right turn: at a corner shared by two diagonal pixels, turning left first goes on around the
  // other one, so 8-connected neighbours stay in one outline.
  const DX = [1, 0, -1, 0]; // east, south, west, north
  const DY = [0, 1, 0, -1];
  const edgeOk = (x: number, y: number, d: number): boolean => {
    switch (d) {
      case 0: // east: inside below the edge, outside above
        return inside(x, y) && !inside(x, y - 1);
      case 1: // south: inside to the west, outside to the east
        return inside(x - 1, y) && !inside(x, y);
      case 2: // west: inside above, outside below
        return inside(x - 1, y - 1) && !inside(x - 1, y);
      default: // north: inside to the east, outside to the west
        return inside(x, y - 1) && !inside(x - 1, y - 1);
    }
  };
  const corners: Array<[number, number]> = [];
  let x = sx;
  let y = sy;
  let d = 0;
  const limit = 4 * (w + 1) * (h + 1);
  for (let step = 0; step < limit; step++) {
    const next = [(d + 3) % 4, d, (d + 1) % 4].find((c) => edgeOk(x, y, c));
    if (next === undefined) throw new Error('outline: lost the edge (a bug)');
    if (next !== d || step === 0) corners.push([x, y]);
    d = next;
    x += DX[d];
    y += DY[d];
    if (x === sx && y === sy) break;
  }
  const ring = simplify(corners, tolerance);
  const out = ring.flat();
  out.push(ring[0][0], ring[0][1]);
  return out;
}

/** Drops corners within `tolerance` of the segment joining their kept neighbours (closed ring; 4 stay at least). */
function simplify(ring: Array<[number, number]>, tolerance: number): Array<[number, number]> {
  let pts = ring;
  for (let changed = true; changed && pts.length > 4;) {
    changed = false;
    const kept: Array<[number, number]> = [];
    for (let i = 0; i < pts.length; i++) {
      const prev = kept.length ? kept[kept.length - 1] : pts[pts.length - 1];
      const next = pts[(i + 1) % pts.length];
      if (pts.length - (i - kept.length) > 4 && distance(pts[i], prev, next) <= tolerance) {
        changed = true;
        continue;
      }
      kept.push(pts[i]);
    }
    pts = kept;
  }
  return pts;
}

/** Distance from p to the segment a-b. */
function distance(p: [number, number], a: [number, number], b: [number, number]): number {
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}
