// `lumbar analyze` end to end on a real sagittal T2 series (issue 13), then with a real axial T2 slice (issue 14): the Spinal Cord Toolbox's lumbar volume
// (../shared/data/sct-t2-lumbar/t2_lumbar.nii.gz, MIT; 38 sagittal slices of 257x201 at 1 mm) written as a DICOM MR
// series with the geometry of its NIfTI header, stored as a scanner would (anterior on the image's right, head at
// the top), then analysed with the shipped models. The grader must grade the lumbar discs it finds, numbered from
// the sacrum up, at the right places in patient space.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import {
  deterministicUid,
  mrImageDataset,
  writePart10,
  type ImagePlane,
  type MrSeries,
  type PatientStudy,
} from '@lumbar/dicom';
import { makeTmpDir, removeDir } from '../helpers/files';
import { cliMain } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { repoRoot, sharedPath } from '../helpers/shared';

interface Volume {
  nx: number;
  ny: number;
  nz: number;
  /** RAS millimetres of voxel (i, j, k) = srow . (i, j, k, 1) */
  srow: number[][];
  at: (i: number, j: number, k: number) => number;
}

function readNifti(file: string): Volume {
  const b = gunzipSync(readFileSync(file));
  if (b.readInt32LE(0) !== 348 || b.readInt16LE(70) !== 4) throw new Error(`${file}: not an int16 NIfTI-1`);
  const [nx, ny, nz] = [1, 2, 3].map((k) => b.readInt16LE(40 + 2 * k));
  if (b.readInt16LE(254) < 1) throw new Error(`${file}: no sform`);
  const srow = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => b.readFloatLE(280 + 16 * r + 4 * c)));
  const off = Math.round(b.readFloatLE(108));
  return { nx, ny, nz, srow, at: (i, j, k) => b.readInt16LE(off + 2 * (i + nx * (j + ny * k))) };
}

/** LPS position of voxel (i, j, k). */
function lps(v: Volume, i: number, j: number, k: number): [number, number, number] {
  const ras = v.srow.map((r) => r[0] * i + r[1] * j + r[2] * k + r[3]);
  return [-ras[0], -ras[1], ras[2]];
}

const study = (uid: (...parts: Array<string | number>) => string, when: Date): PatientStudy => ({
  patientName: 'SCT^LUMBAR',
  patientId: 'SCT-T2-LUMBAR',
  patientBirthDate: '19800101',
  patientSex: 'O',
  studyInstanceUid: uid('study'),
  studyId: '1',
  accessionNumber: 'SCT0001',
  studyDescription: 'MRI LUMBAR SPINE',
  studyDateTime: when,
  frameOfReferenceUid: uid('for'),
  institutionName: 'Spinal Cord Toolbox tutorial data (MIT)',
  manufacturer: 'unknown',
  modelName: 'unknown',
  deviceSerialNumber: '0',
  magneticFieldStrength: 3,
});
const uidOf = (...parts: Array<string | number>) => deterministicUid('lumbar-test-sct', ...parts);
const WHEN = new Date(Date.UTC(2026, 11, 6, 9, 0));

/** A T2 TSE series as a scanner describes it. */
const mrSeries = (
  key: string,
  n: number,
  description: string,
  tr: number,
  thicknessMm: number,
): MrSeries => ({
  seriesInstanceUid: uidOf(key),
  seriesNumber: n,
  seriesDescription: description,
  protocolName: description,
  seriesDateTime: WHEN,
  imageType: ['ORIGINAL', 'PRIMARY', 'M'],
  scanningSequence: 'SE',
  sequenceVariant: 'SK',
  scanOptions: '',
  mrAcquisitionType: '2D',
  sequenceName: 'tse',
  repetitionTime: tr,
  echoTime: 100,
  echoTrainLength: 16,
  flipAngle: 90,
  sliceThickness: thicknessMm,
  pixelBandwidth: 200,
});

function writeSeries(v: Volume, dir: string): void {
  // The header's axes: i = right, j = anterior, k = superior (sform close to identity; checked below).
  expect(v.srow[0][0]).toBeCloseTo(1, 3);
  expect(v.srow[1][1]).toBeCloseTo(1, 3);
  expect(v.srow[2][2]).toBeCloseTo(1, 3);
  const uid = uidOf;
  const when = WHEN;
  const series = mrSeries('series', 2, 'T2 TSE SAG', 3000, 1);
  // Stored like a scanner's sagittal: rows from head to foot (k falling), columns from posterior to anterior
  // (j rising), i.e. the patient's front on the image's right; the pipeline has to turn it to canonical.
  for (let i = 0; i < v.nx; i++) {
    const rows = v.nz;
    const columns = v.ny;
    const pixels = new Uint16Array(rows * columns);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < columns; c++) pixels[r * columns + c] = Math.max(0, v.at(i, c, v.nz - 1 - r));
    const origin = lps(v, i, 0, v.nz - 1);
    const plane: ImagePlane = {
      position: origin,
      row: [0, -1, 0], // along a row, j rises: anterior (LPS y falls)
      col: [0, 0, -1], // down a column, k falls: towards the feet
      spacing: [1, 1],
      rows,
      columns,
    };
    const ds = mrImageDataset(study(uid, when), series, {
      sopInstanceUid: uid('image', i),
      instanceNumber: i + 1,
      plane,
      pixels,
      windowCenter: 600,
      windowWidth: 1200,
    });
    writeFileSync(path.join(dir, `IM${String(i + 1).padStart(4, '0')}.dcm`), writePart10(ds));
  }
}

/** 8-bit grey PNG -> pixels. */
function readPng(file: string): { width: number; height: number; data: Uint16Array } {
  const png = PNG.sync.read(readFileSync(file));
  const data = new Uint16Array(png.width * png.height);
  for (let i = 0; i < data.length; i++) data[i] = png.data[i * 4];
  return { width: png.width, height: png.height, data };
}

/** Held-out real axial T2 slices (annotations/mendeley-axial, split test): a disc cut between an endplate and a body. */
const AXIAL = [
  { file: 'validation__without_pain__spine_0009', offsetMm: -5 }, // endplate
  { file: 'validation__with_pain__spine_0027', offsetMm: 0 }, // disc
  { file: 'validation__with_pain__spine_0015', offsetMm: 5 }, // vertebral body
];
const AXIAL_MM = 0.6; // 320 px -> a 192 mm field of view

/**
 * Held-out real axial T1 slices (split test), in a series that calls itself T2: a disc between two slices through
 * vertebral bodies. The slice gate (models/ax-slice-gate) must see the contrast and the bodies.
 */
const AXIAL_T1 = [
  { file: 'validation__without_pain__spine_0023', offsetMm: -5 }, // vertebral body
  { file: 'validation__with_pain__spine_0016', offsetMm: 0 }, // disc
  { file: 'validation__without_pain__spine_0013', offsetMm: 5 }, // vertebral body
];

/** An axial T2 series of real slices centred on `centre` (LPS), stored in radiological display order. */
function writeAxialSeries(dir: string, centre: readonly number[], slices = AXIAL): void {
  const series = mrSeries('axial-series', 3, 'T2 TSE TRA', 4000, 4);
  slices.forEach((a, k) => {
    const img = readPng(sharedPath('data', 'mendeley-axial-unlabelled', `${a.file}.png`));
    // columns run to the patient's left (LPS +x), rows to the back (LPS +y): anterior up, patient's left on the right
    const plane: ImagePlane = {
      position: [
        centre[0] - (img.width / 2) * AXIAL_MM,
        centre[1] - (img.height / 2) * AXIAL_MM,
        centre[2] + a.offsetMm,
      ],
      row: [1, 0, 0],
      col: [0, 1, 0],
      spacing: [AXIAL_MM, AXIAL_MM],
      rows: img.height,
      columns: img.width,
    };
    const ds = mrImageDataset(study(uidOf, WHEN), series, {
      sopInstanceUid: uidOf('axial', k),
      instanceNumber: k + 1,
      plane,
      pixels: img.data,
      windowCenter: 128,
      windowWidth: 256,
    });
    writeFileSync(path.join(dir, `AX${k + 1}.dcm`), writePart10(ds));
  });
}

describe('lumbar analyze on a real sagittal T2 series (SCT lumbar volume)', () => {
  let tmp: string;
  let volume: Volume;
  let l4l5: readonly number[] | undefined;
  beforeAll(() => {
    tmp = makeTmpDir('analyze-real');
    volume = readNifti(sharedPath('data', 'sct-t2-lumbar', 't2_lumbar.nii.gz'));
    mkdirSync(path.join(tmp, 'study', 'sag'), { recursive: true });
    writeSeries(volume, path.join(tmp, 'study', 'sag'));
  });
  afterAll(() => (process.env.LUMBAR_KEEP_TEST_DIR ? undefined : removeDir(tmp)));

  /** `lumbar analyze` on the study folder: it must exit 0 and print nothing on stderr; its findings.json. */
  async function analyze(out: string) {
    const run = await runTool(process.execPath, [cliMain, 'analyze', path.join(tmp, 'study'), '--out', out], {
      cwd: repoRoot,
      timeoutMs: 180_000,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return { run, f: JSON.parse(readFileSync(path.join(out, 'findings.json'), 'utf8')) };
  }

  it('grades the lumbar discs from the sacrum up, in patient space, and says what it lacks', async () => {
    expect(readdirSync(path.join(tmp, 'study', 'sag'))).toHaveLength(volume.nx);
    const out = path.join(tmp, 'out');
    const { run, f } = await analyze(out);
    const card = JSON.parse(readFileSync(path.join(repoRoot, 'models', 'sag-grading', 'model.json'), 'utf8'));
    const gradings = f.gradings as Array<{
      level: string;
      fromBottom: number;
      herniation: number;
      bulging: number;
      narrowing: number;
      pfirrmann: { grade: number; distribution: number[] };
      model: { name: string; version: string };
    }>;
    // this volume shows the lumbar spine from about T12 to the sacrum: at least four lumbar discs are graded
    expect(gradings.length).toBeGreaterThanOrEqual(4);
    expect(gradings.slice(0, 4).map((g) => g.level)).toEqual(['L5-S1', 'L4-L5', 'L3-L4', 'L2-L3']);
    for (const g of gradings) {
      expect(g.model).toEqual({ name: card.name, version: card.version });
      for (const p of [g.herniation, g.bulging, g.narrowing]) expect(p >= 0 && p <= 1).toBe(true);
      expect(g.pfirrmann.distribution.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(g.pfirrmann.grade).toBe(
        g.pfirrmann.distribution.indexOf(Math.max(...g.pfirrmann.distribution)) + 1,
      );
    }
    // the discs lie in the volume, one above the other from L5-S1 up (LPS z rises to the head), near the midline
    const discs = f.discs as Array<{ level: string; centroid: number[] }>;
    l4l5 = discs.find((d) => d.level === 'L4-L5')?.centroid;
    const z = discs.map((d) => d.centroid[2]);
    for (let k = 1; k < z.length; k++) expect(z[k]).toBeGreaterThan(z[k - 1] + 15);
    const lo = lps(volume, 0, 0, 0);
    const hi = lps(volume, volume.nx - 1, volume.ny - 1, volume.nz - 1);
    for (const d of discs) {
      expect(d.centroid[0]).toBeGreaterThanOrEqual(Math.min(lo[0], hi[0]));
      expect(d.centroid[0]).toBeLessThanOrEqual(Math.max(lo[0], hi[0]));
      expect(d.centroid[2]).toBeGreaterThanOrEqual(lo[2]);
      expect(d.centroid[2]).toBeLessThanOrEqual(hi[2]);
    }
    // no axial series: the herniation type and side cannot be told, and the findings say so
    expect(f.warnings).toContain('no axial T2 slices');
    for (const l of f.levels) expect(l.diagnosis).toBe('indeterminate');
    expect(run.stdout.split('\n')[1]).toMatch(/^sagittal grading .*L5-S1 Pfirrmann [1-5]/);
    expect(readdirSync(path.join(out, 'key-images')).length).toBeGreaterThanOrEqual(1);
  });

  it('segments the disc of a real axial T2 slice placed at L4-L5, and reads the level from the sagittal view', async () => {
    expect(l4l5).toBeDefined();
    mkdirSync(path.join(tmp, 'study', 'ax'));
    writeAxialSeries(path.join(tmp, 'study', 'ax'), l4l5!);
    const { f } = await analyze(path.join(tmp, 'out-axial'));
    expect(f.warnings).not.toContain('no axial T2 slices');
    const level = f.levels.find((l: { level: string }) => l.level === 'L4-L5');
    const disc = level.evidence.axial.find(
      (a: { sopInstanceUid: string }) => a.sopInstanceUid === uidOf('axial', 1),
    ) as { distanceMm: number; discAreaMm2: number } | undefined;
    // the slice through the disc is assigned to L4-L5 and its disc segmented: the project mask's area, +-25 %
    expect(disc).toBeDefined();
    expect(disc!.distanceMm).toBeLessThan(1);
    const maskArea = 3150 * AXIAL_MM * AXIAL_MM; // annotations/mendeley-axial/labels.csv, disc_area_px
    expect(disc!.discAreaMm2).toBeGreaterThan(0.75 * maskArea);
    expect(disc!.discAreaMm2).toBeLessThan(1.25 * maskArea);
    expect(level.diagnosis).toEqual(expect.any(String));
  });

  it('drops real slices through vertebral bodies and calls a T1 disc slice unlike the training data', async () => {
    expect(l4l5).toBeDefined();
    const card = JSON.parse(
      readFileSync(path.join(repoRoot, 'models', 'ax-slice-gate', 'model.json'), 'utf8'),
    );
    rmSync(path.join(tmp, 'study', 'ax'), { recursive: true, force: true });
    mkdirSync(path.join(tmp, 'study', 'ax'));
    writeAxialSeries(path.join(tmp, 'study', 'ax'), l4l5!, AXIAL_T1);
    const { f } = await analyze(path.join(tmp, 'out-axial-t1'));
    expect(f.algorithm.models.axialGate).toEqual({ name: 'ax-slice-gate', version: card.version });
    const level = f.levels.find((l: { level: string }) => l.level === 'L4-L5');
    const kept = level.evidence.axial as Array<{
      sopInstanceUid: string;
      gate: { notT2: boolean; t2: number };
    }>;
    // the disc slice is kept, and read as not T2-weighted
    const disc = kept.find((a) => a.sopInstanceUid === uidOf('axial', 1));
    expect(disc).toBeDefined();
    expect(disc!.gate.notT2).toBe(true);
    expect(disc!.gate.t2).toBeLessThan(card.output.thresholds.t2);
    // at least one body slice is left out, with a warning naming it
    const dropped = [0, 2].filter((k) =>
      f.warnings.some((w: string) => w.startsWith(`axial slice ${uidOf('axial', k)} at L4-L5 left out`)),
    );
    expect(dropped.length).toBeGreaterThanOrEqual(1);
    for (const k of dropped) expect(kept.find((a) => a.sopInstanceUid === uidOf('axial', k))).toBeUndefined();
    // all the evidence left is unlike the training data: the level is indeterminate and says why
    expect(level.diagnosis).toBe('indeterminate');
    expect(level.reason).toBe('image unlike the training data');
  });
});
