import { deflateSync } from 'node:zlib';
import { drawText } from '@lumbar/analysis';
import type { ScopeFigures } from './report';

// A small raster plotter for the site validation report: unit-square line plots (ROC, PR, calibration)
// with axes, ticks, a reference line and a legend, written as RGB PNG. Text uses the 5x7 font of the key
// images (upper case, digits and - . : ; / , ( ) only), so labels keep to those characters.

export type Rgb = readonly [number, number, number];

export const COLOURS = {
  blue: [31, 100, 180] as Rgb,
  orange: [230, 110, 10] as Rgb,
  green: [40, 150, 40] as Rgb,
  red: [200, 40, 40] as Rgb,
  grey: [150, 150, 150] as Rgb,
  black: [20, 20, 20] as Rgb,
};

export interface PlotSeries {
  label: string;
  colour: Rgb;
  /** (x, y) in [0, 1] x [0, 1]. */
  points: ReadonlyArray<readonly [number, number]>;
  /** line: joined; points: markers only; both: joined with markers. */
  style?: 'line' | 'points' | 'both';
  dashed?: boolean;
  /** Marker radius per point (pixels); 4 when absent. */
  radii?: readonly number[];
}

export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  /** Lines drawn in the middle of the plot (e.g. why there is no curve). */
  message?: string[];
  width?: number;
  height?: number;
}

const SCALE = 2;
const CHAR_W = 6 * SCALE;
const LINE_H = 9 * SCALE;

class Canvas {
  readonly rgb: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgb = new Uint8Array(width * height * 3).fill(255);
  }

  blend(x: number, y: number, c: Rgb, alpha: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || alpha <= 0) return;
    const i = (y * this.width + x) * 3;
    const a = Math.min(1, alpha);
    for (let k = 0; k < 3; k++) this.rgb[i + k] = Math.round(this.rgb[i + k] * (1 - a) + c[k] * a);
  }

  rect(x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
    for (let y = Math.max(0, y0); y < Math.min(this.height, y1); y++)
      for (let x = Math.max(0, x0); x < Math.min(this.width, x1); x++) this.blend(x, y, c, 1);
  }

  /** An anti-aliased segment of the given half-width; dashed: 8 on, 6 off. */
  segment(ax: number, ay: number, bx: number, by: number, c: Rgb, half: number, dashed = false): void {
    const len = Math.hypot(bx - ax, by - ay);
    const cover = (x: number, y: number): void => {
      const px = x + 0.5;
      const py = y + 0.5;
      let t = len ? ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / (len * len) : 0;
      t = Math.max(0, Math.min(1, t));
      if (dashed && (t * len) % 14 > 8) return;
      const d = Math.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)));
      this.blend(x, y, c, half + 0.5 - d);
    };
    // walk the major axis; on each step only the band of pixels the stroke can touch
    const horizontal = Math.abs(bx - ax) >= Math.abs(by - ay);
    const [a0, a1, b0, b1] = horizontal ? [ax, bx, ay, by] : [ay, by, ax, bx];
    const slope = a1 === a0 ? 0 : (b1 - b0) / (a1 - a0);
    const band = (half + 1.5) * Math.sqrt(1 + slope * slope);
    for (let u = Math.floor(Math.min(a0, a1) - half - 1); u <= Math.ceil(Math.max(a0, a1) + half + 1); u++) {
      const uc = Math.max(Math.min(a0, a1), Math.min(Math.max(a0, a1), u + 0.5));
      const vc = b0 + (uc - a0) * slope;
      for (let v = Math.floor(vc - band); v <= Math.ceil(vc + band); v++) {
        if (horizontal) cover(u, v);
        else cover(v, u);
      }
    }
  }

  disc(cx: number, cy: number, r: number, c: Rgb): void {
    if (r <= 0) return;
    for (let y = Math.floor(cy - r - 1); y <= Math.ceil(cy + r + 1); y++)
      for (let x = Math.floor(cx - r - 1); x <= Math.ceil(cx + r + 1); x++)
        this.blend(x, y, c, r + 0.5 - Math.hypot(x + 0.5 - cx, y + 0.5 - cy));
  }

  text(s: string, x: number, y: number, c: Rgb = COLOURS.black): void {
    drawText(this.rgb, this.width, this.height, plotText(s), Math.round(x), Math.round(y), SCALE, c);
  }
}

/** Text as the 5x7 font can draw it: upper case; a few common characters spelled with ones it has. */
export function plotText(s: string): string {
  return s
    .toUpperCase()
    .replace(/[–—]/g, '-')
    .replace(/=/g, ':')
    .replace(/%/g, ' PCT')
    .replace(/[^A-Z0-9\-.:;/,() ]/g, ' ');
}

const textWidth = (s: string): number => plotText(s).length * CHAR_W;

/** Renders a unit-square plot to RGB pixels. */
export function renderPlotRgb(spec: PlotSpec): { width: number; height: number; rgb: Uint8Array } {
  const width = spec.width ?? 560;
  const height = spec.height ?? 500;
  const cv = new Canvas(width, height);
  const left = 72;
  const right = width - 32;
  const top = 30 + 2 * LINE_H;
  const bottom = height - 30 - 2 * LINE_H;
  const X = (x: number) => left + x * (right - left);
  const Y = (y: number) => bottom - y * (bottom - top);

  cv.text(spec.title, (width - textWidth(spec.title)) / 2, 6);
  cv.text(spec.yLabel, 4, 10 + LINE_H);
  // grid and ticks
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    cv.segment(X(v), top, X(v), bottom, [225, 225, 225], 0.5);
    cv.segment(left, Y(v), right, Y(v), [225, 225, 225], 0.5);
    const label = v.toFixed(1);
    cv.text(label, X(v) - textWidth(label) / 2 - SCALE, bottom + 10);
    cv.text(label, left - textWidth(label) - 10, Y(v) - LINE_H / 2);
  }
  cv.text(spec.xLabel, (left + right - textWidth(spec.xLabel)) / 2, bottom + 16 + LINE_H);
  // axes box
  cv.segment(left, top, left, bottom, COLOURS.black, 1);
  cv.segment(left, bottom, right, bottom, COLOURS.black, 1);
  cv.segment(right, top, right, bottom, [120, 120, 120], 0.5);
  cv.segment(left, top, right, top, [120, 120, 120], 0.5);

  for (const s of spec.series) {
    const style = s.style ?? 'line';
    const pts = s.points.map(([x, y]) => [X(clamp01(x)), Y(clamp01(y))] as const);
    if (style !== 'points') {
      for (let i = 1; i < pts.length; i++)
        cv.segment(
          pts[i - 1][0],
          pts[i - 1][1],
          pts[i][0],
          pts[i][1],
          s.colour,
          s.dashed ? 0.8 : 1.3,
          s.dashed,
        );
    }
    if (style !== 'line') pts.forEach(([x, y], i) => cv.disc(x, y, s.radii?.[i] ?? 4, s.colour));
  }

  if (spec.message?.length) {
    const y0 = (top + bottom) / 2 - (spec.message.length * LINE_H) / 2;
    spec.message.forEach((m, i) =>
      cv.text(m, (left + right - textWidth(m)) / 2, y0 + i * LINE_H, COLOURS.red),
    );
  }

  // legend, bottom right inside the plot
  const entries = spec.series.filter((s) => s.label);
  if (entries.length) {
    const w = Math.max(...entries.map((s) => textWidth(s.label))) + 40;
    const h = entries.length * LINE_H + 8;
    const lx = right - w - 6;
    const ly = bottom - h - 6;
    cv.rect(lx, ly, right - 6, bottom - 6, [255, 255, 255]);
    cv.segment(lx, ly, right - 6, ly, [160, 160, 160], 0.5);
    cv.segment(lx, bottom - 6, right - 6, bottom - 6, [160, 160, 160], 0.5);
    cv.segment(lx, ly, lx, bottom - 6, [160, 160, 160], 0.5);
    cv.segment(right - 6, ly, right - 6, bottom - 6, [160, 160, 160], 0.5);
    entries.forEach((s, i) => {
      const cy = ly + 4 + i * LINE_H + LINE_H / 2;
      if ((s.style ?? 'line') === 'points') cv.disc(lx + 16, cy, 4, s.colour);
      else cv.segment(lx + 6, cy, lx + 28, cy, s.colour, s.dashed ? 0.8 : 1.3, s.dashed);
      cv.text(s.label, lx + 32, cy - LINE_H / 2 + 1);
    });
  }
  return { width, height, rgb: cv.rgb };
}

/** Renders a unit-square plot to an RGB PNG. */
export function renderPlot(spec: PlotSpec): Buffer {
  const { width, height, rgb } = renderPlotRgb(spec);
  return encodeRgbPng(rgb, width, height);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Encodes 8-bit interleaved RGB pixels as PNG (filter 0 on every row, deflate level 9). */
export function encodeRgbPng(rgb: Uint8Array, width: number, height: number): Buffer {
  if (rgb.length !== width * height * 3) throw new RangeError('encodeRgbPng: pixels do not match the size');
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++)
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const clamp01 = (v: number): number => (Number.isFinite(v) ? Math.max(0, Math.min(1, v)) : 0);

const f2 = (v: number | null): string => (v === null ? '-' : v.toFixed(2));

/** Why a curve cannot be drawn, or null when it can. */
function undefinedCurve(positives: number, negatives: number): string[] | undefined {
  if (positives + negatives === 0) return ['NO DETERMINATE LEVELS'];
  if (positives === 0) return ['NOT DEFINED:', 'NO HERNIATED LEVEL'];
  if (negatives === 0) return ['NOT DEFINED:', 'EVERY LEVEL HERNIATED'];
  return undefined;
}

/** The ROC, PR and calibration plots of one scope of the report. */
export function scopePlotSpecs(s: ScopeFigures): { roc: PlotSpec; pr: PlotSpec; calibration: PlotSpec } {
  const { roc, pr, calibration, herniation: h } = s;
  const rocMessage = undefinedCurve(roc.positives, roc.negatives);
  const operating: PlotSeries[] =
    h.sensitivity.value !== null && h.specificity.value !== null
      ? [
          {
            label: 'PIPELINE CALL',
            colour: COLOURS.orange,
            style: 'points',
            points: [[1 - h.specificity.value, h.sensitivity.value]],
            radii: [6],
          },
        ]
      : [];
  const chance: PlotSeries = {
    label: '',
    colour: COLOURS.grey,
    dashed: true,
    points: [
      [0, 0],
      [1, 1],
    ],
  };
  const rocSpec: PlotSpec = {
    title: `ROC ${s.scope} (N ${roc.positives + roc.negatives})`,
    xLabel: '1 - SPECIFICITY',
    yLabel: 'SENSITIVITY',
    series: [
      chance,
      ...(rocMessage
        ? []
        : [
            {
              label: `AUC ${f2(roc.auc)} (${f2(roc.aucLow)}-${f2(roc.aucHigh)})`,
              colour: COLOURS.blue,
              points: roc.points.map((p) => [p.fpr, p.tpr] as const),
            },
          ]),
      ...operating,
    ],
    message: rocMessage,
  };
  const prMessage = undefinedCurve(pr.positives, pr.n - pr.positives);
  const prSpec: PlotSpec = {
    title: `PRECISION-RECALL ${s.scope}`,
    xLabel: 'RECALL (SENSITIVITY)',
    yLabel: 'PRECISION (PPV)',
    series: prMessage
      ? []
      : [
          {
            label: `PREVALENCE ${f2(pr.prevalence)}`,
            colour: COLOURS.grey,
            dashed: true,
            points: [
              [0, pr.prevalence ?? 0],
              [1, pr.prevalence ?? 0],
            ],
          },
          {
            label: `AP ${f2(pr.averagePrecision)}`,
            colour: COLOURS.blue,
            style: 'both',
            points: [
              [0, pr.points[0]?.precision ?? 1],
              ...pr.points.map((p) => [p.recall, p.precision] as const),
            ],
            radii: [0, ...pr.points.map(() => 3)],
          },
          ...(h.sensitivity.value !== null && h.ppv.value !== null
            ? [
                {
                  label: 'PIPELINE CALL',
                  colour: COLOURS.orange,
                  style: 'points' as const,
                  points: [[h.sensitivity.value, h.ppv.value] as const],
                  radii: [6],
                },
              ]
            : []),
        ],
    message: prMessage,
  };
  const filled = calibration.bins.filter((b) => b.n > 0);
  const maxN = Math.max(1, ...filled.map((b) => b.n));
  const calSpec: PlotSpec = {
    title: `CALIBRATION ${s.scope}`,
    xLabel: 'MEAN P(HERNIATION) IN BIN',
    yLabel: 'FRACTION HERNIATED',
    series: [
      { ...chance, label: 'PERFECT' },
      ...(filled.length
        ? [
            {
              label: `BRIER ${f2(calibration.brier)} ECE ${f2(calibration.ece)}`,
              colour: COLOURS.blue,
              style: 'both' as const,
              points: filled.map((b) => [b.meanPredicted!, b.observed.value!] as const),
              radii: filled.map((b) => 3 + 5 * Math.sqrt(b.n / maxN)),
            },
          ]
        : []),
    ],
    message: filled.length ? undefined : ['NO DETERMINATE LEVELS'],
  };
  return { roc: rocSpec, pr: prSpec, calibration: calSpec };
}
