import { DISC_LEVELS, DiscLevel, AxialClass } from '@lumbar/core';
import type { Vec3 } from '@lumbar/dicom';
import { ValueNoise } from './noise';
import { Rng } from './rng';
import { T } from './tissues';

/**
 * The phantom's anatomy in DICOM patient coordinates (mm; +x patient left, +y posterior, +z head).
 *
 * The spine is a chain of segments in the mid-sagittal plane x = x0: vertebrae T12..L5 and two
 * sacral segments, each a body between two endplate planes with its own tilt (lordosis), and a
 * disc between consecutive bodies (wedge-shaped where the endplates are not parallel). Every point
 * is classified by the segment it lies in, using that segment's local frame:
 *   a = lateral (x - x0, + patient left), b = antero-posterior (+ posterior), u = along the spine axis.
 */

export interface Segment {
  name: string;
  cy: number;
  cz: number;
  /** Axis (towards the head) and AP direction (posterior) in the y-z plane. */
  ty: number;
  tz: number;
  ny: number;
  nz: number;
  halfHeight: number;
  halfWidth: number;
  halfDepth: number;
  sacral: boolean;
}

export interface Disc {
  level: DiscLevel;
  label: number;
  lower: number; // index of the segment below
  pathology: AxialClass;
  /** Herniation: lateral centre (mm, + patient left), depth and lateral sigma (mm). */
  herniationCentre: number;
  herniationDepth: number;
  herniationSigma: number;
  bulge: number;
  degeneration: number; // 0 healthy .. 1 severe
  halfWidth: number;
  halfDepth: number;
  /** Centre and axis of the disc (mid-point between the endplates; mean of both axes). */
  cy: number;
  cz: number;
  ty: number;
  tz: number;
  ny: number;
  nz: number;
  height: number;
}

export interface Anatomy {
  x0: number;
  size: number;
  segments: Segment[];
  discs: Disc[];
  torso: { cy: number; ax: number; ay: number; fat: number };
  canal: { halfWidth: number; halfDepth: number };
  /** Nerve roots of the cauda equina: (a, b offset) pairs, flat. */
  roots: Float64Array;
  texture: Float64Array;
  /** The realistic style's extra anatomy and textures (`addRealism`); absent in the classic style. */
  real?: Realism;
}

/** What the realistic style adds to an anatomy (docs/PHANTOM.md, "Realism"). */
export interface Realism {
  /** Textures: marrow mottling, bowel, kidney, the course of fascia and septa. */
  noise: ValueNoise;
  /** Fibre-like ridges: fat septa in the subcutaneous fat, fat streaks between muscle fibres. */
  fibres: ValueNoise;
  /** Extra subcutaneous fat over the back (mm at the midline), the patient lying on it. */
  backFat: number;
  /** Psoas size factor. */
  psoas: number;
  /** Fat streaks in the muscles (0 lean .. 1 fatty, grows with age). */
  muscleFat: number;
}

/**
 * Turns a classic anatomy into a realistic-style one: draws only from `rng` (its own stream), so the classic
 * anatomy of the same seed is unchanged. Flat, wider back on the table, bigger psoas, textures.
 */
export function addRealism(an: Anatomy, rng: Rng): void {
  an.torso.ax *= rng.uniform(1.05, 1.25);
  // Mendeley axial T2: the skin of the back about 0.41 FOV (76 mm) behind the disc centre, about 90 mm in the
  // classic phantom; the flat back brings it forward
  an.torso.ay *= rng.uniform(0.82, 0.95);
  an.real = {
    noise: new ValueNoise(rng.fork('noise')),
    fibres: new ValueNoise(rng.fork('fibres')),
    backFat: rng.uniform(0, 10) * an.size,
    psoas: rng.uniform(0.9, 1.15),
    muscleFat: rng.uniform(0.2, 1),
  };
}

const SEGMENT_NAMES = ['T12', 'L1', 'L2', 'L3', 'L4', 'L5', 'S1', 'S2'];
/** Axis tilt (degrees, + towards posterior going up) of each segment at average lordosis. */
const TILT = [12, 7, 2, -3, -10, -18, -38, -52];
const BODY_HALF_HEIGHT = [11.5, 12.5, 13, 13.5, 13.5, 13, 14, 11];
const BODY_HALF_WIDTH = [19, 20, 21.5, 23, 24, 25, 24, 18];
const BODY_HALF_DEPTH = [14, 15, 15.5, 16, 16.5, 16.5, 15, 12];
/** Disc heights (mm) above each segment: T12-L1 ... L5-S1 (below index i+1), S1-S2 fused. */
const DISC_HEIGHT = [6.5, 8, 9, 10, 11, 10, 2.5];

export interface PathologyPlan {
  levels: Partial<Record<DiscLevel, AxialClass>>;
}

export function buildAnatomy(rng: Rng, plan: PathologyPlan): Anatomy {
  const size = rng.uniform(0.85, 1.2);
  const lordosis = rng.uniform(0.6, 1.35);
  const discScale = rng.uniform(0.8, 1.15);
  const x0 = rng.uniform(-4, 4);
  const n = SEGMENT_NAMES.length;
  const bodyScale = Math.sqrt(size);

  // Build the chain from S2 upwards: each body sits on the disc above the previous one.
  const segments: Segment[] = new Array(n);
  const discHeights: number[] = [];
  let topY = 0;
  let topZ = -150;
  let prevT: [number, number] | null = null;
  const degeneration: number[] = [];
  for (let k = n - 1; k >= 0; k--) {
    const tilt = ((TILT[k] * lordosis + rng.uniform(-2, 2)) * Math.PI) / 180;
    const ty = Math.sin(tilt);
    const tz = Math.cos(tilt);
    const hh = BODY_HALF_HEIGHT[k] * bodyScale * rng.uniform(0.95, 1.05);
    let baseY = topY;
    let baseZ = topZ;
    if (prevT) {
      // disc between segment k+1 (below) and k (above)
      const di = k; // DISC_HEIGHT index: disc above segment k+1 is disc index k
      const deg = rng.next() < 0.35 ? rng.uniform(0.2, 1) : rng.uniform(0, 0.25);
      degeneration[di] = deg;
      const h = DISC_HEIGHT[di] * discScale * (1 - 0.3 * deg) * (di < 6 ? 1 : 1);
      discHeights[di] = h;
      const my = prevT[0] + ty;
      const mz = prevT[1] + tz;
      const ml = Math.hypot(my, mz);
      baseY = topY + (h * my) / ml;
      baseZ = topZ + (h * mz) / ml;
    }
    const cy = baseY + hh * ty;
    const cz = baseZ + hh * tz;
    segments[k] = {
      name: SEGMENT_NAMES[k],
      cy,
      cz,
      ty,
      tz,
      ny: tz,
      nz: -ty,
      halfHeight: hh,
      halfWidth: BODY_HALF_WIDTH[k] * bodyScale * rng.uniform(0.95, 1.05),
      halfDepth: BODY_HALF_DEPTH[k] * bodyScale * rng.uniform(0.95, 1.05),
      sacral: k >= 6,
    };
    topY = cy + hh * ty;
    topZ = cz + hh * tz;
    prevT = [ty, tz];
  }
  // Centre the lumbar spine: mean of L1..L5 body centres at y = 20*size, z = 0.
  let my = 0;
  let mz = 0;
  for (let k = 1; k <= 5; k++) {
    my += segments[k].cy / 5;
    mz += segments[k].cz / 5;
  }
  for (const s of segments) {
    s.cy += 20 * size - my;
    s.cz -= mz;
  }

  const discs: Disc[] = [];
  for (let i = 0; i < DISC_LEVELS.length; i++) {
    const up = segments[i];
    const lo = segments[i + 1];
    const level = DISC_LEVELS[i];
    const pathology = plan.levels[level] ?? 'healthy';
    const sy = up.ty + lo.ty;
    const sz = up.tz + lo.tz;
    const sl = Math.hypot(sy, sz);
    const ty = sy / sl;
    const tz = sz / sl;
    // disc centre: midway between the lower body's top and the upper body's bottom
    const cy = (lo.cy + lo.halfHeight * lo.ty + up.cy - up.halfHeight * up.ty) / 2;
    const cz = (lo.cz + lo.halfHeight * lo.tz + up.cz - up.halfHeight * up.tz) / 2;
    const halfWidth = Math.max(up.halfWidth, lo.halfWidth) * 1.03;
    const halfDepth = Math.max(up.halfDepth, lo.halfDepth) * 1.05;
    let deg = degeneration[i];
    if (pathology !== 'healthy') deg = Math.max(deg, rng.uniform(0.3, 0.9));
    const side = pathology === 'left' ? 1 : pathology === 'right' ? -1 : 0;
    const herniation = pathology === 'central' || side !== 0;
    discs.push({
      level,
      label: i + 1,
      lower: i + 1,
      pathology,
      herniationCentre: side * halfWidth * rng.uniform(0.3, 0.45) + (side === 0 ? rng.uniform(-1.5, 1.5) : 0),
      herniationDepth: herniation ? rng.uniform(2, 8) : 0,
      herniationSigma: herniation ? rng.uniform(4.5, 7.5) : 0,
      bulge: pathology === 'bulge' ? rng.uniform(1.8, 3.5) : 0,
      degeneration: deg,
      halfWidth,
      halfDepth,
      cy,
      cz,
      ty,
      tz,
      ny: tz,
      nz: -ty,
      height: discHeights[i],
    });
  }

  const texture = new Float64Array(24);
  for (let i = 0; i < texture.length; i++) texture[i] = rng.uniform(0, 2 * Math.PI);
  const roots = new Float64Array(20);
  for (let i = 0; i < 10; i++) {
    const side = i % 2 === 0 ? 1 : -1;
    roots[2 * i] = side * rng.uniform(1.5, 6.5);
    roots[2 * i + 1] = rng.uniform(0.5, 5);
  }
  return {
    x0,
    size,
    segments,
    discs,
    torso: {
      cy: 0,
      ax: 150 * size * rng.uniform(0.9, 1.1),
      ay: 110 * size * rng.uniform(0.9, 1.08),
      fat: rng.uniform(6, 30) * size,
    },
    canal: {
      halfWidth: 9 * bodyScale * rng.uniform(0.9, 1.1),
      halfDepth: 7 * bodyScale * rng.uniform(0.85, 1.1),
    },
    roots,
    texture,
  };
}

/** The centre of a disc in patient coordinates. */
export function discCentre(an: Anatomy, d: Disc): Vec3 {
  return [an.x0, d.cy, d.cz];
}

/** Result of classifying one point: tissue code and disc label (0 when not disc). */
export interface Sample {
  tissue: number;
  disc: number;
  /** Realistic style, nucleus only: how much of the nucleus signal (1 at its centre, 0 at the annulus). */
  frac?: number;
}

/**
 * Classifies a point. Written for speed (it runs for every pixel): no allocation, early exits.
 * `out` receives the result.
 */
export function classify(an: Anatomy, x: number, y: number, z: number, out: Sample): void {
  out.disc = 0;
  const a = x - an.x0;
  const to = an.torso;
  const ry = (y - to.cy) / to.ay;
  const rx = a / to.ax;
  const re = an.real;
  let r: number;
  if (re) {
    r = torsoRadius(rx, ry);
    if (r >= 1) {
      out.tissue = T.Air;
      return;
    }
  } else {
    const rho = rx * rx + ry * ry;
    if (rho >= 1) {
      out.tissue = T.Air;
      return;
    }
    r = Math.sqrt(rho);
  }
  const minAxis = to.ay;
  if (r > 1 - 2 / minAxis) {
    out.tissue = T.Skin;
    return;
  }
  if (r > 1 - (2 + to.fat + (re && ry > 0 ? re.backFat * ry * ry : 0)) / minAxis) {
    out.tissue = T.Fat;
    return;
  }

  // Which segment of the chain: the vertebra whose slab contains the point, or the disc between two.
  const segs = an.segments;
  let k = -1;
  let disc = -1;
  let best = Infinity;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    const u = (y - s.cy) * s.ty + (z - s.cz) * s.tz;
    const au = Math.abs(u) - s.halfHeight;
    if (au < best) {
      best = au;
      k = i;
    }
  }
  const s = segs[k];
  const dy = y - s.cy;
  const dz = z - s.cz;
  const u = dy * s.ty + dz * s.tz;
  const b = dy * s.ny + dz * s.nz;
  if (best > 0) {
    // between two bodies: the disc above (u > 0) or below (u < 0) segment k
    disc = u > 0 ? k - 1 : k;
    if (disc < 0 || disc >= an.discs.length + 1) disc = -1;
  }
  if (disc >= 0 && disc < an.discs.length) {
    const d = an.discs[disc];
    const ddy = y - d.cy;
    const ddz = z - d.cz;
    const db = ddy * d.ny + ddz * d.nz;
    const du = ddy * d.ty + ddz * d.tz;
    if (discTissue(d, a, db, du, out, re !== undefined)) return;
    if (re) {
      if (posteriorReal(an, d.halfDepth, a, db, du, out, true, disc + 1, d.height / 2)) return;
    } else if (posteriorTissue(an, d.halfDepth, a, db, du, out, true, disc + 1)) return;
  } else if (disc === an.discs.length) {
    // fused S1-S2 "disc": bone
    if (insideKidney(a, b, s.halfWidth, s.halfDepth, 0.1)) {
      out.tissue = T.Cortex;
      return;
    }
  } else {
    if (bodyTissue(s, a, b, u, out)) return;
    if (re) {
      if (posteriorReal(an, s.halfDepth, a, b, u, out, false, k, 0)) return;
    } else if (posteriorTissue(an, s.halfDepth, a, b, u, out, false, k)) return;
  }
  if (re) softTissueReal(an, re, k, a, b, z, r, out);
  else softTissue(an, k, a, b, y, out);
}

/** Realistic style: an ellipse in front, a flatter back (superellipse of degree 4) where the patient lies. */
function torsoRadius(rx: number, ry: number): number {
  if (ry <= 0) return Math.sqrt(rx * rx + ry * ry);
  const x2 = rx * rx;
  const y2 = ry * ry;
  return Math.sqrt(Math.sqrt(x2 * x2 + y2 * y2));
}

function insideKidney(a: number, b: number, hw: number, hd: number, concavity: number): boolean {
  const ra = a / hw;
  const ra2 = ra * ra;
  if (ra2 >= 1) return false;
  if (b <= 0) return ra2 + (b / hd) * (b / hd) < 1;
  return b < hd * Math.sqrt(1 - ra2) - concavity * hd * dip(ra2);
}

/** Distance from (px, py) to the segment (ax, ay)-(bx, by). */
function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const vx = bx - ax;
  const vy = by - ay;
  let t = ((px - ax) * vx + (py - ay) * vy) / (vx * vx + vy * vy);
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const dx = px - ax - t * vx;
  const dy = py - ay - t * vy;
  return Math.sqrt(dx * dx + dy * dy);
}

/** The posterior concavity profile of a body or disc: about exp(-ra2 / 0.16), cheaper. */
function dip(ra2: number): number {
  const q = ra2 * 6.25;
  return 1 / (1 + q + 0.5 * q * q);
}

function bodyTissue(s: Segment, a: number, b: number, u: number, out: Sample): boolean {
  const hw = s.halfWidth * (s.sacral ? 1.25 : 1);
  if (Math.abs(u) > s.halfHeight) return false;
  if (!insideKidney(a, b, hw, s.halfDepth, 0.1)) return false;
  const rim = !insideKidney(a, b, hw - 1.4, s.halfDepth - 1.4, 0.1) || Math.abs(u) > s.halfHeight - 1.1;
  out.tissue = rim ? T.Cortex : T.Marrow;
  return true;
}

function discTissue(d: Disc, a: number, b: number, u: number, out: Sample, soft = false): boolean {
  const hh = d.height / 2;
  if (Math.abs(u) > hh + 0.6) return false;
  const hw = d.halfWidth + d.bulge;
  const hd = d.halfDepth + d.bulge;
  // healthy discs have a slightly concave posterior margin; a bulge makes it convex and broad
  // (realistic style: a deeper notch, the kidney shape of real axial discs)
  const conc = d.bulge > 0 ? -0.12 : soft ? 0.3 : 0.08;
  if (insideKidney(a, b, hw, hd, conc)) {
    out.disc = d.label;
    // nucleus: an inner ellipse, slightly posterior, flattened by degeneration
    const na = a / (hw * 0.55);
    const nb = (b - 0.12 * hd) / (hd * 0.5);
    const nu = u / (hh * (0.75 - 0.35 * d.degeneration));
    const e = na * na + nb * nb + nu * nu;
    if (soft) {
      // realistic: the nucleus fades into the annulus (no sharp inner edge), a little wider than the classic one
      if (e < 1.5) {
        out.tissue = T.Nucleus;
        out.frac = e < 0.5 ? 1 : 1.5 - e;
      } else out.tissue = T.Annulus;
      return true;
    }
    out.tissue = e < 1 ? T.Nucleus : T.Annulus;
    return true;
  }
  if (d.herniationDepth > 0 && b > 0) {
    const ra = a / hw;
    if (ra * ra < 1) {
      const edge = hd * Math.sqrt(1 - ra * ra) - conc * hd * dip(ra * ra);
      const g = (a - d.herniationCentre) / d.herniationSigma;
      const vu = u / (hh + 0.6);
      const bump = d.herniationDepth * Math.exp(-g * g) * Math.sqrt(Math.max(0, 1 - vu * vu * vu * vu));
      if (b < edge + bump) {
        out.disc = d.label;
        out.tissue = T.Herniation;
        return true;
      }
    }
  }
  return false;
}

/** The canal behind a body or a disc (`halfDepth` its half depth; `index` 6 and up: the sacral canal, narrower and flatter). */
function canalFrame(an: Anatomy, halfDepth: number, index: number) {
  const cw = an.canal.halfWidth;
  const cd = an.canal.halfDepth;
  // centre of the canal, along b
  const bc = halfDepth + 2.5 + cd;
  const sacral = index >= 6;
  // half width and half depth of the thecal sac
  const sw = sacral ? cw * 0.8 : cw;
  const sd = sacral ? cd * 0.55 : cd;
  // the back of the epidural fat, where the posterior elements start
  const back = bc + sd + 3.2;
  return { bc, sacral, sw, sd, back };
}

/**
 * Canal, thecal sac, roots, ligaments and posterior elements, in the local frame of a body or a disc.
 * `atDisc` selects the facet joints (at disc level) or pedicles and transverse processes (at body level).
 */
function posteriorTissue(
  an: Anatomy,
  halfDepth: number,
  a: number,
  b: number,
  u: number,
  out: Sample,
  atDisc: boolean,
  index: number,
): boolean {
  const { bc, sacral, sw, sd, back } = canalFrame(an, halfDepth, index);
  const ea = a / sw;
  const eb = (b - bc) / sd;
  const e = ea * ea + eb * eb;
  if (e < 1) {
    if (!sacral) {
      const roots = an.roots;
      for (let i = 0; i < roots.length; i += 2) {
        const qa = a - roots[i];
        const qb = b - (bc + roots[i + 1]);
        if (qa * qa + qb * qb < 1.1) {
          out.tissue = T.Root;
          return true;
        }
      }
    }
    out.tissue = T.Csf;
    return true;
  }
  // epidural fat and ligamentum flavum around the sac
  const fa = a / (sw + 3);
  const fb = (b - bc) / (sd + 3.2);
  const f = fa * fa + fb * fb;
  if (f < 1) {
    out.tissue = b > bc + sd * 0.6 && f > 0.55 ? T.Ligament : T.EpiduralFat;
    return true;
  }
  if (atDisc) {
    // facet joints, postero-lateral to the canal at the level of the disc
    for (let side = 1; side >= -1; side -= 2) {
      const fa2 = a - side * (sw + 9);
      const fb2 = b - (bc + 4);
      const q = (fa2 / 7.5) * (fa2 / 7.5) + (fb2 / 10) * (fb2 / 10);
      if (q < 1 && Math.abs(u) < 14) {
        const joint = fa2 * 0.8 - side * fb2 * 0.6;
        out.tissue = Math.abs(joint) < 0.9 ? T.FacetFluid : q > 0.7 ? T.Cortex : T.Marrow;
        return true;
      }
    }
    // ligamentum flavum and the interspinous region behind the canal
    if (Math.abs(a) < sw + 2 && b > back - 3 && b < back && Math.abs(u) < 6) {
      out.tissue = T.Ligament;
      return true;
    }
  } else if (bodyLevelBones(false, an, halfDepth, a, b, u, out, index)) return true;
  return false;
}

/** Pedicles, transverse processes, laminae and spinous process, at the level of a vertebral body. */
function bodyLevelBones(
  real: boolean,
  an: Anatomy,
  halfDepth: number,
  a: number,
  b: number,
  u: number,
  out: Sample,
  index: number,
): boolean {
  const { bc, sacral, sw, back } = canalFrame(an, halfDepth, index);
  // pedicles
  if (
    Math.abs(a) > sw - 1 &&
    Math.abs(a) < sw + 7 &&
    b > halfDepth - 3 &&
    b < bc + 2 &&
    u > -0.5 * 13 &&
    u < 0.6 * 13
  ) {
    out.tissue = Math.abs(Math.abs(a) - (sw + 3)) > 2.6 ? T.Cortex : T.Marrow;
    return true;
  }
  // transverse processes
  if (
    !sacral &&
    Math.abs(a) >= sw + 7 &&
    Math.abs(a) < sw + 32 * an.size &&
    Math.abs(b - bc) < 4 &&
    Math.abs(u - 2) < 5
  ) {
    out.tissue = Math.abs(b - bc) > 2.6 ? T.Cortex : T.Marrow;
    return true;
  }
  // laminae: plates from the pedicles postero-medially to the base of the spinous process (a V)
  if (u < 9 && u > -16) {
    const d = segmentDistance(Math.abs(a), b, sw + 4, bc + 1, 1.5, back + 4);
    if (d < 2.6) {
      out.tissue = d > 1.3 ? T.Cortex : T.Marrow;
      return true;
    }
  }
  // spinous process, pointing postero-inferiorly
  const depth = b - back;
  const half = real ? 4.5 : 3.5;
  if (!sacral && depth > 0 && depth < 40 * an.size && Math.abs(a) < half) {
    const uc = -2 - 0.3 * depth;
    if (Math.abs(u - uc) < 8.5 - depth * 0.06) {
      out.tissue = Math.abs(a) > (real ? 3.6 : 2.2) ? T.Cortex : T.Marrow;
      return true;
    }
  }
  return false;
}

function softTissue(an: Anatomy, k: number, a: number, b: number, y: number, out: Sample): void {
  const s = an.segments[k];
  const sz = an.size;
  const bc = s.halfDepth + 2.5 + an.canal.halfDepth;
  const aa = Math.abs(a);
  // paraspinal muscles: multifidus hugging the spinous processes, erector spinae lateral to it
  const ma = (aa - 11 * sz) / (11 * sz);
  const mb = (b - bc - 22 * sz) / (20 * sz);
  const ea = (aa - 32 * sz) / (17 * sz);
  const eb = (b - bc - 28 * sz) / (23 * sz);
  if (ma * ma + mb * mb < 1 || ea * ea + eb * eb < 1) {
    out.tissue = aa < 1.2 ? T.Ligament : T.Muscle;
    return;
  }
  if (k <= 6) {
    // psoas, larger caudally, antero-lateral to the bodies (down to the sacral promontory)
    const rp = (6 + 2.6 * Math.min(k, 5)) * sz;
    const pa = (aa - (s.halfWidth + 2 + rp)) / rp;
    const pb = (b + 0.15 * s.halfDepth) / (rp * 0.95);
    if (pa * pa + pb * pb < 1) {
      out.tissue = T.Muscle;
      return;
    }
    // quadratus lumborum
    const qa = (aa - 62 * sz) / (15 * sz);
    const qb = (b - bc + 2) / (8 * sz);
    if (qa * qa + qb * qb < 1) {
      out.tissue = T.Muscle;
      return;
    }
  }
  // aorta (left) and inferior vena cava (right), anterior to the spine above the bifurcation
  if (k <= 4) {
    const va = (a - 13) / 11;
    const vb = (b + s.halfDepth + 14) / 11;
    const ca = (a + 17) / 13;
    const cb = (b + s.halfDepth + 12) / 8;
    if (va * va + vb * vb < 1 || ca * ca + cb * cb < 1) {
      out.tissue = T.Vessel;
      return;
    }
  }
  // abdominal wall muscle ring just inside the subcutaneous fat
  const to = an.torso;
  const ry = (y - to.cy) / to.ay;
  const rx = a / to.ax;
  const r = Math.sqrt(rx * rx + ry * ry);
  if (r > 1 - (2 + to.fat + 9) / to.ay) {
    out.tissue = T.Muscle;
    return;
  }
  // retroperitoneal fat: an ellipse around the spine and psoas; back muscles behind; bowel in front
  const ra = a / (75 * sz);
  const rb = (b - 0.2 * s.halfDepth) / (s.halfDepth + 14);
  if (ra * ra + rb * rb < 1) out.tissue = T.Fat;
  else if (b < 0) out.tissue = T.Abdomen;
  else out.tissue = T.Muscle;
}

/**
 * Realistic style: canal, nerve roots, epidural fat, ligamentum flavum and facet joints (at disc level), then the
 * classic bones at body level. `discHalfHeight` is 0 at body level.
 */
function posteriorReal(
  an: Anatomy,
  halfDepth: number,
  a: number,
  b: number,
  u: number,
  out: Sample,
  atDisc: boolean,
  index: number,
  discHalfHeight: number,
): boolean {
  const { bc, sacral, sw, sd, back } = canalFrame(an, halfDepth, index);
  const aa = Math.abs(a);
  // thecal sac: a rounded triangle, wide in front and narrowing behind (trefoil-like at the lower levels); in
  // front it reaches the back of the disc and of the body (which are classified first), so that it fills the
  // disc's posterior notch and CSF lies against the annulus as on real T2 slices
  const front = sacral ? sd : Math.max(sd, bc - 0.66 * halfDepth);
  const rel = (b - bc) / (b < bc ? front : sd);
  const taper = rel > 0 ? 1 - 0.35 * rel : 1;
  const ea = a / (sw * 0.9 * taper);
  const e = ea * ea + rel * rel;
  if (e < 1) {
    if (!sacral) {
      // cauda equina: thin roots lying dependent (posterior: the patient is supine)
      const roots = an.roots;
      for (let i = 0; i < roots.length; i += 2) {
        const qa = a - roots[i] * 0.8;
        const qb = b - (bc + 0.3 * sd + roots[i + 1] * 0.5);
        if (qa * qa + qb * qb < 0.7) {
          out.tissue = T.Root;
          return true;
        }
      }
      // traversing roots in the lateral recesses, in front
      const ta = aa - sw * 0.6;
      const tb = b - (bc - sd * 0.5);
      if (ta * ta + tb * tb < 2.4) {
        out.tissue = T.Root;
        return true;
      }
    }
    out.tissue = T.Csf;
    return true;
  }
  // ligamentum flavum: two bands along the inside of the laminae, meeting behind the sac (a V)
  if (!sacral && atDisc && Math.abs(u) < discHalfHeight + 5) {
    const dl = segmentDistance(aa, b, sw + 3.5, bc + 0.5, 0.8, back + 1.2);
    if (dl < 1.7) {
      out.tissue = T.Ligament;
      return true;
    }
  }
  // epidural fat: a thin layer in front, a dorsal fat pad and the lateral recesses behind
  const fa = a / (sw + 2.5);
  const fb = (b - bc) / (sd + (b < bc ? 1.2 : 3.2));
  if (fa * fa + fb * fb < 1) {
    out.tissue = T.EpiduralFat;
    return true;
  }
  if (!atDisc) return bodyLevelBones(true, an, halfDepth, a, b, u, out, index);
  if (Math.abs(u) > 14) return false;
  // exiting nerve roots in the foramina, each in its fat
  const xa = aa - (sw + 6.5);
  const xb = b - (bc - 2);
  const xr = xa * xa + xb * xb;
  if (!sacral && u > -discHalfHeight && xr < 22) {
    out.tissue = xr < 5 ? T.Root : T.EpiduralFat;
    return true;
  }
  // facet joints: the superior articular process of the vertebra below (antero-lateral) cupping the inferior
  // process of the one above (postero-medial), a curved joint space between them
  const side = a >= 0 ? 1 : -1;
  const fa2 = a - side * (sw + 8.5);
  const fb2 = b - (bc + 4);
  const q = (fa2 / 8.5) * (fa2 / 8.5) + (fb2 / 11) * (fb2 / 11);
  if (q < 1) {
    const oa = fa2 + side * 7;
    const ob = fb2 - 7;
    const rho = Math.sqrt(oa * oa + ob * ob) - 9;
    if (Math.abs(rho) < 0.55) out.tissue = T.FacetFluid;
    else out.tissue = q > 0.7 || Math.abs(rho) < 1.9 ? T.Cortex : T.Marrow;
    return true;
  }
  // interspinous ligament behind the flavum
  if (!sacral && aa < 2 && b > back - 1 && b < back + 30 * an.size) {
    out.tissue = T.Ligament;
    return true;
  }
  return false;
}

/**
 * Realistic style: soft tissue. Paraspinal muscles with a fat plane between multifidus and erector spinae and fat in
 * the midline behind the spinous processes, psoas touching the body, quadratus lumborum, kidneys above L4, aorta
 * and cava (iliac vessels at L5), fat behind and beside the spine, bowel in front with a wavy border.
 */
function softTissueReal(
  an: Anatomy,
  re: Realism,
  k: number,
  a: number,
  b: number,
  z: number,
  r: number,
  out: Sample,
): void {
  const s = an.segments[k];
  const sz = an.size;
  const bc = s.halfDepth + 2.5 + an.canal.halfDepth;
  const aa = Math.abs(a);
  const ma = (aa - 12.5 * sz) / (11 * sz);
  const mb = (b - bc - 24 * sz) / (24 * sz);
  const m = ma * ma + mb * mb;
  const ea = (aa - 38 * sz) / (24 * sz);
  const eb = (b - bc - 29 * sz) / (27 * sz);
  const e = ea * ea + eb * eb;
  if (m < 1) {
    out.tissue = m > 0.86 && e < 1 ? T.Fat : T.Muscle;
    return;
  }
  if (e < 1) {
    out.tissue = T.Muscle;
    return;
  }
  if (b > bc && aa < 1.5 * sz) {
    out.tissue = aa < 1 ? T.Ligament : T.Fat;
    return;
  }
  if (k <= 6) {
    const rp = (8 + 3.2 * Math.min(k, 5)) * sz * re.psoas;
    const pa = (aa - (s.halfWidth + 0.8 * rp)) / rp;
    const pb = (b + 0.1 * s.halfDepth) / (rp * 0.92);
    if (pa * pa + pb * pb < 1) {
      out.tissue = T.Muscle;
      return;
    }
  }
  if (k <= 5) {
    const qa = (aa - 56 * sz) / (14 * sz);
    const qb = (b - bc + 3) / (9 * sz);
    if (qa * qa + qb * qb < 1) {
      out.tissue = T.Muscle;
      return;
    }
  }
  if (k <= 3) {
    // kidneys, their lower poles reaching L3, in perirenal fat
    const f = k === 3 ? 0.45 : 1;
    const ka = (aa - 72 * sz) / (22 * sz * f);
    const kb = (b - bc + 22 * sz) / (30 * sz * f);
    const kr = ka * ka + kb * kb;
    if (kr < 1) {
      out.tissue = T.Kidney;
      return;
    }
  }
  if (k <= 4) {
    const va = (a - 12) / 10;
    const vb = (b + s.halfDepth + 9) / 10;
    const ca = (a + 16) / 12;
    const cb = (b + s.halfDepth + 8) / 8;
    if (va * va + vb * vb < 1 || ca * ca + cb * cb < 1) {
      out.tissue = T.Vessel;
      return;
    }
  } else if (k === 5) {
    // common iliac arteries (front) and veins (behind, lateral)
    const ia = (aa - 15) / 6;
    const ib = (b + s.halfDepth + 10) / 6;
    const ja = (aa - 22) / 7;
    const jb = (b + s.halfDepth + 3) / 6;
    if (ia * ia + ib * ib < 1 || ja * ja + jb * jb < 1) {
      out.tissue = T.Vessel;
      return;
    }
  }
  // latissimus dorsi and the obliques: a band from behind the erector spinae forwards along the flank
  if (b < bc + 40 * sz && b > bc - 30 * sz) {
    const dl = segmentDistance(aa, b, 52 * sz, bc + 38 * sz, 115 * sz, bc - 25 * sz);
    if (dl < 3 * sz) {
      out.tissue = T.Muscle;
      return;
    }
  }
  // abdominal wall and flank muscles inside the subcutaneous fat
  const to = an.torso;
  if (r > 1 - (2 + to.fat + 8) / to.ay && b < bc) {
    out.tissue = T.Muscle;
    return;
  }
  const wave = 14 * (re.noise.at(a / 22 + 7.3, 0.37, z / 22) - 0.5);
  const pre = (b + s.halfDepth) / 6;
  const pra = a / (38 * sz);
  // the border runs backwards laterally: colon and bowel beside the psoas, fat behind them
  const lateral = Math.max(0, aa - s.halfWidth - 30 * sz) * 0.6;
  if (b < Math.min(-0.5 * s.halfDepth + wave + lateral, bc - 8) && pra * pra + pre * pre >= 1) {
    out.tissue = T.Abdomen;
    return;
  }
  out.tissue = T.Fat;
}
