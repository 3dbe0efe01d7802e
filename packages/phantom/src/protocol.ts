import { AxialClass, DiscLevel } from '@lumbar/core';
import { ImagePlane, MrSeries, PatientStudy, Vec3, centredPlane, deterministicUid } from '@lumbar/dicom';
import { Anatomy, addRealism, buildAnatomy } from './anatomy';
import { Rng } from './rng';
import { RenderOptions } from './render';

/** The levels whose truth the phantom reports, and the axial blocks it acquires. */
export const REPORTED_LEVELS: readonly DiscLevel[] = ['L3-L4', 'L4-L5', 'L5-S1'];

export type SeriesKind = 'localizer' | 't1_sag' | 't2_sag' | 't2_tra';

/**
 * `classic`: the phantom of issue 2, on which the shipped models were trained (the default; its bytes never change).
 * `realistic`: closer to real images (docs/PHANTOM.md, "Realism"): the same anatomy, pathology and truth per seed,
 * plus more anatomy, textures, the surface coil's fall-off, less noise, and each vendor's own contrasts.
 */
export type PhantomStyle = 'classic' | 'realistic';
export const PHANTOM_STYLES: readonly PhantomStyle[] = ['classic', 'realistic'];

export interface SeriesPlan {
  kind: SeriesKind;
  folder: string;
  series: MrSeries;
  planes: ImagePlane[];
  /** For axial slices: the disc level the slice was planned through. */
  levels: Array<DiscLevel | null>;
  render: Omit<RenderOptions, 'bias'>;
}

export interface StudyPlan {
  index: number;
  style: PhantomStyle;
  /** First part of every UID of the study (differs per style, so that both styles of a seed can share a PACS). */
  uidRoot: string;
  folder: string;
  anatomy: Anatomy;
  truth: Record<DiscLevel, AxialClass>;
  study: PatientStudy;
  series: SeriesPlan[];
}

const PATHOLOGY_WEIGHTS: Record<string, Record<AxialClass, number>> = {
  'L3-L4': { healthy: 0.5, bulge: 0.2, central: 0.1, left: 0.1, right: 0.1 },
  'L4-L5': { healthy: 0.3, bulge: 0.2, central: 0.16, left: 0.17, right: 0.17 },
  'L5-S1': { healthy: 0.3, bulge: 0.2, central: 0.16, left: 0.17, right: 0.17 },
};

const VENDORS = [
  {
    manufacturer: 'SIEMENS (synthetic)',
    model: 'Phantom Avanto',
    names: { localizer: 'localizer', t1_sag: 't1_tse_sag', t2_sag: 't2_tse_sag', t2_tra: 't2_tse_tra' },
    seq: { t1: '*tse2d1_3', t2: '*tse2d1_17', loc: '*fl2d1' },
  },
  {
    manufacturer: 'GE (synthetic)',
    model: 'Phantom Signa',
    names: { localizer: '3-Plane Loc', t1_sag: 'Sag T1 FSE', t2_sag: 'Sag T2 FSE', t2_tra: 'Ax T2 FSE' },
    seq: { t1: 'fse', t2: 'fse', loc: 'fgre' },
  },
  {
    manufacturer: 'Philips (synthetic)',
    model: 'Phantom Ingenia',
    names: { localizer: 'SURVEY', t1_sag: 'T1W_TSE_SAG', t2_sag: 'T2W_TSE_SAG', t2_tra: 'T2W_TSE_TRA' },
    seq: { t1: 'TSE', t2: 'TSE', loc: 'FFE' },
  },
] as const;

/** Acquisition matrices, weighted towards the common clinical 320-384. */
const MATRICES = [256, 320, 320, 384, 384, 448, 512];
const GIVEN = ['ALPHA', 'BRAVO', 'CHARLIE', 'DELTA', 'ECHO', 'FOXTROT', 'GOLF', 'HOTEL', 'INDIA', 'JULIET'];

/** Plans one synthetic study: anatomy, pathology, identity and every series with its geometry. */
export function planStudy(seed: string | number, index: number, style: PhantomStyle = 'classic'): StudyPlan {
  const rng = new Rng(`lumbar-phantom/${seed}/${index}`);
  const truth = {} as Record<DiscLevel, AxialClass>;
  for (const level of REPORTED_LEVELS) truth[level] = rng.weighted(PATHOLOGY_WEIGHTS[level]);
  const anatomy = buildAnatomy(rng.fork('anatomy'), { levels: truth });
  // the realistic style draws from its own stream: the classic draws (and so the classic bytes) stay as they were
  const real = style === 'realistic' ? new Rng(`lumbar-phantom/${seed}/${index}/realistic`) : null;
  if (real) addRealism(anatomy, real.fork('anatomy'));
  const uidRoot = real ? 'lumbar-phantom-realistic' : 'lumbar-phantom';
  const uid = (...parts: Array<string | number>) => deterministicUid(uidRoot, seed, index, ...parts);
  const vendor = rng.pick(VENDORS);
  const studyDate = new Date(Date.UTC(2026, 0, 5, 7, 30) + index * 86400000 + rng.int(0, 600) * 60000);
  const birthYear = rng.int(1945, 2000);
  const sex = rng.next() < 0.5 ? 'F' : 'M';
  const idTag = deterministicUid('lumbar-phantom-id', seed).slice(-6);
  const number = String(index + 1).padStart(4, '0');
  const study: PatientStudy = {
    patientName: `PHANTOM^${rng.pick(GIVEN)}${number}`,
    patientId: `PH${idTag}-${number}`,
    patientBirthDate: `${birthYear}${String(rng.int(1, 12)).padStart(2, '0')}${String(rng.int(1, 28)).padStart(2, '0')}`,
    patientSex: sex,
    patientAge: `${String(studyDate.getUTCFullYear() - birthYear - 1).padStart(3, '0')}Y`,
    patientSizeM: Math.round(170 * Math.sqrt(anatomy.size) * (sex === 'F' ? 0.95 : 1.03)) / 100,
    patientWeightKg: Math.round(75 * anatomy.size * anatomy.size),
    studyInstanceUid: uid('study'),
    studyId: number,
    accessionNumber: `PHA${idTag}${number}`,
    studyDescription: 'MRI LUMBAR SPINE WITHOUT CONTRAST',
    studyDateTime: studyDate,
    frameOfReferenceUid: uid('frame-of-reference'),
    institutionName: 'lumbar-ai synthetic phantom',
    manufacturer: vendor.manufacturer,
    modelName: vendor.model,
    deviceSerialNumber: `PH${idTag}`,
    magneticFieldStrength: rng.pick([1.5, 3]),
  };

  const seriesTime = (n: number) => new Date(studyDate.getTime() + n * 4 * 60000);
  const base = (n: number, kind: SeriesKind) => ({
    seriesInstanceUid: uid('series', kind),
    seriesNumber: n,
    seriesDescription: vendor.names[kind],
    protocolName: vendor.names[kind],
    seriesDateTime: seriesTime(n),
    imageType: ['ORIGINAL', 'PRIMARY', 'OTHER'],
    mrAcquisitionType: '2D' as const,
    pixelBandwidth: Math.round(rng.uniform(130, 300)),
  });

  const segs = anatomy.segments;
  const spineY = (segs[1].cy + segs[5].cy) / 2;
  const top = segs[0].cz + segs[0].halfHeight; // top of T12
  const bottom = segs[7].cz; // sacrum
  let sagCentre: Vec3 = [
    anatomy.x0,
    spineY + 15 + rng.uniform(-10, 10),
    (top + bottom) / 2 + rng.uniform(-10, 10),
  ];
  let sagFov = Math.max(280, (top - bottom) * 1.25) + rng.uniform(0, 40);
  if (real) {
    // SPIDER's mid-sagittal slices: the spine a little behind the centre, the FOV just over T12 to the sacrum
    // (SPIDER T2: median 280 mm, 10th-90th percentile 223-300 mm on the shorter side, from overview.csv)
    sagFov = Math.min(330, Math.max(230, (top - bottom) * real.uniform(0.95, 1.1)));
    // the skin of the back at 0.78-0.9 of the width (SPIDER: the signal drops from 0.91 to 0.19 of its maximum
    // between the 8th and 9th tenth, from the front)
    const backY = anatomy.torso.cy + anatomy.torso.ay;
    sagCentre = [sagCentre[0], backY - sagFov * real.uniform(0.28, 0.4), sagCentre[2]];
  }

  const series: SeriesPlan[] = [];
  const noise = () => rng.uniform(0.012, 0.035);
  const scale = () => rng.uniform(700, 2600);

  // 1. three-plane localizer
  const locFov: [number, number] = [rng.uniform(380, 450), 0];
  locFov[1] = locFov[0];
  const l3l4 = anatomy.discs[3];
  series.push({
    kind: 'localizer',
    folder: '01_localizer',
    series: {
      ...base(1, 'localizer'),
      scanningSequence: 'GR',
      sequenceVariant: 'SP',
      scanOptions: '',
      sequenceName: vendor.seq.loc,
      repetitionTime: 8.6,
      echoTime: 4,
      echoTrainLength: 1,
      flipAngle: 20,
      sliceThickness: 8,
    },
    planes: [
      centredPlane(sagCentre, [0, 1, 0], [0, 0, -1], locFov, 256, 256),
      centredPlane([anatomy.x0, spineY, sagCentre[2]], [1, 0, 0], [0, 0, -1], locFov, 256, 256),
      centredPlane([anatomy.x0, 0, l3l4.cz], [1, 0, 0], [0, 1, 0], locFov, 256, 256),
    ],
    levels: [null, null, null],
    render: {
      contrast: { tr: 250, te: 4 },
      thickness: 8,
      depthSamples: 1,
      intensityScale: scale(),
      noise: noise(),
    },
  });

  // 2-3. sagittal T1 and T2 with the same slice positions
  const nSag = rng.int(11, 15);
  const sagThick = rng.uniform(3, 4);
  const sagSpacing = sagThick * rng.uniform(1.0, 1.15);
  const xShift = rng.uniform(-3, 3);
  const sagPlanes = (matrix: number, psi: number) => {
    const c = Math.cos(psi);
    const s = Math.sin(psi);
    const row: Vec3 = [0, c, -s]; // posterior, rotated in plane
    const col: Vec3 = [0, -s, -c]; // feet, rotated in plane
    const planes: ImagePlane[] = [];
    for (let i = 0; i < nSag; i++) {
      // slices from the patient's right (-x) to left (+x)
      const x = anatomy.x0 + xShift + (i - (nSag - 1) / 2) * sagSpacing;
      planes.push(centredPlane([x, sagCentre[1], sagCentre[2]], row, col, [sagFov, sagFov], matrix, matrix));
    }
    return planes;
  };
  let psiSag = (rng.uniform(-10, 10) * Math.PI) / 180;
  // SPIDER's sagittal slices are barely rotated in plane
  if (real) psiSag = (real.uniform(-4, 4) * Math.PI) / 180;
  for (const [n, kind] of [
    [2, 't1_sag'],
    [3, 't2_sag'],
  ] as const) {
    const t2 = kind === 't2_sag';
    series.push({
      kind,
      folder: `0${n}_${vendor.names[kind].replace(/[^A-Za-z0-9]+/g, '_').toLowerCase()}`,
      series: {
        ...base(n, kind),
        scanningSequence: 'SE',
        sequenceVariant: 'SK\\SP',
        scanOptions: '',
        sequenceName: t2 ? vendor.seq.t2 : vendor.seq.t1,
        repetitionTime: Math.round(t2 ? rng.uniform(3000, 4500) : rng.uniform(450, 700)),
        echoTime: Math.round(t2 ? rng.uniform(90, 115) : rng.uniform(8, 14)),
        echoTrainLength: t2 ? rng.int(15, 25) : rng.int(3, 5),
        flipAngle: t2 ? 90 : 150,
        sliceThickness: sagThick,
        spacingBetweenSlices: sagSpacing,
      },
      planes: sagPlanes(rng.pick(MATRICES), psiSag + (rng.uniform(-1, 1) * Math.PI) / 180),
      levels: new Array(nSag).fill(null),
      render: {
        contrast: { tr: 0, te: 0 },
        thickness: sagThick,
        depthSamples: 1,
        intensityScale: scale(),
        noise: noise(),
      },
    });
    const last = series[series.length - 1];
    last.render.contrast = { tr: last.series.repetitionTime, te: last.series.echoTime };
  }

  // 4. axial T2 blocks parallel to each reported disc
  const axThick = rng.uniform(3, 4);
  const axSpacing = axThick * rng.uniform(1.0, 1.1);
  const axMatrix = rng.pick(MATRICES.slice(0, 5));
  let axFov = rng.uniform(180, 240);
  // Mendeley's axial T2 slices: discs of 85 px (median width) on 320 px, about 0.56 mm/px for a 48 mm disc
  if (real) axFov = real.uniform(175, 225);
  const axPlanes: ImagePlane[] = [];
  const axLevels: DiscLevel[] = [];
  for (const level of REPORTED_LEVELS) {
    const d = anatomy.discs.find((x) => x.level === level)!;
    const reach = d.height / 2 + axThick / 2 - 0.6;
    const m = 1.5 * axSpacing < reach ? rng.int(3, 4) : 3;
    const psi = (rng.uniform(-10, 10) * Math.PI) / 180;
    const c = Math.cos(psi);
    const s = Math.sin(psi);
    const r0: Vec3 = [1, 0, 0];
    const c0: Vec3 = [0, d.ny, d.nz];
    const row: Vec3 = [c * r0[0] + s * c0[0], c * r0[1] + s * c0[1], c * r0[2] + s * c0[2]];
    const col: Vec3 = [-s * r0[0] + c * c0[0], -s * r0[1] + c * c0[1], -s * r0[2] + c * c0[2]];
    let shiftB = 22 + rng.uniform(-8, 8);
    // Mendeley: the disc's centre at 0.49 of the height (median over the project's disc masks)
    if (real) shiftB = real.uniform(-8, 4);
    const shiftA = rng.uniform(-8, 8);
    // slices from superior to inferior
    const jitter = rng.uniform(-0.6, 0.6);
    for (let j = 0; j < m; j++) {
      // thin discs: slices move closer (they may overlap) so that every slab still cuts the disc
      const off = ((m - 1) / 2 - j) * Math.min(axSpacing, (2 * reach) / (m - 1)) + jitter;
      const centre: Vec3 = [
        anatomy.x0 + shiftA,
        d.cy + d.ny * shiftB + d.ty * off,
        d.cz + d.nz * shiftB + d.tz * off,
      ];
      axPlanes.push(centredPlane(centre, row, col, [axFov, axFov], axMatrix, axMatrix));
      axLevels.push(level);
    }
  }
  series.push({
    kind: 't2_tra',
    folder: `04_${vendor.names.t2_tra.replace(/[^A-Za-z0-9]+/g, '_').toLowerCase()}`,
    series: {
      ...base(4, 't2_tra'),
      scanningSequence: 'SE',
      sequenceVariant: 'SK\\SP',
      scanOptions: '',
      sequenceName: vendor.seq.t2,
      repetitionTime: Math.round(rng.uniform(3500, 5000)),
      echoTime: Math.round(rng.uniform(95, 110)),
      echoTrainLength: rng.int(15, 21),
      flipAngle: 90,
      sliceThickness: axThick,
    },
    planes: axPlanes,
    levels: axLevels,
    render: {
      contrast: { tr: 0, te: 0 },
      thickness: axThick,
      depthSamples: 1,
      intensityScale: scale(),
      noise: noise(),
    },
  });
  const ax = series[series.length - 1];
  ax.render.contrast = { tr: ax.series.repetitionTime, te: ax.series.echoTime };

  if (real) realisticAcquisition(real, vendor.manufacturer, study, series, anatomy);
  return { index, style, uidRoot, folder: `study-${number}`, anatomy, truth, study, series };
}

/**
 * Echo and repetition times, echo train and field strength per vendor, from SPIDER's overview.csv (169 sagittal T2
 * and 160 T1 series; `python -m training.realism stats` prints them): 5th-95th percentiles per vendor and field.
 * GE is not in SPIDER and keeps the classic ranges. Siemens 1.5 T T2 starts at TR 3000 (its 5th percentile, 1000, comes
 * from a few short-TR series).
 */
const VENDOR_CONTRASTS: Record<
  string,
  {
    field3: number;
    t2: Record<'1.5' | '3', [number, number, number, number, number, number]>;
    t1: Record<'1.5' | '3', [number, number, number, number]>;
  }
> = {
  // [TE lo, TE hi, TR lo, TR hi, ETL lo, ETL hi]; T1: [TE lo, TE hi, TR lo, TR hi]
  'SIEMENS (synthetic)': {
    field3: 0.06,
    t2: { '1.5': [93, 124, 3000, 4250, 17, 21], '3': [92, 105, 3480, 5300, 18, 21] },
    t1: { '1.5': [10, 11, 446, 676], '3': [10, 10, 459, 606] },
  },
  'Philips (synthetic)': {
    field3: 0.83,
    t2: { '1.5': [80, 80, 2746, 3143, 27, 27], '3': [120, 120, 3563, 4772, 25, 25] },
    t1: { '1.5': [8, 8, 575, 575], '3': [14, 14, 600, 735] },
  },
  'GE (synthetic)': {
    field3: 0.5,
    t2: { '1.5': [90, 115, 3000, 4500, 15, 25], '3': [90, 115, 3000, 4500, 15, 25] },
    t1: { '1.5': [8, 14, 450, 700], '3': [8, 14, 450, 700] },
  },
};

/** Realistic style: the vendor's contrasts and field, noise as measured on the real slices, the coil's fall-off. */
function realisticAcquisition(
  rng: Rng,
  manufacturer: string,
  study: PatientStudy,
  series: SeriesPlan[],
  an: Anatomy,
): void {
  const v = VENDOR_CONTRASTS[manufacturer];
  const field = rng.next() < v.field3 ? 3 : 1.5;
  const key = field === 3 ? '3' : '1.5';
  study.magneticFieldStrength = field;
  // the posterior coil: the same elements for every series; its reach varies with the patient and the coil
  const backY = an.torso.cy + an.torso.ay;
  const reach = rng.uniform(0.85, 1.2);
  for (const sp of series) {
    const s = sp.series;
    if (sp.kind === 't2_sag' || sp.kind === 't2_tra') {
      const [te0, te1, tr0, tr1, e0, e1] = v.t2[key];
      s.echoTime = Math.round(rng.uniform(te0, te1));
      s.repetitionTime = Math.round(rng.uniform(tr0, tr1));
      s.echoTrainLength = rng.int(e0, e1);
    } else if (sp.kind === 't1_sag') {
      const [te0, te1, tr0, tr1] = v.t1[key];
      s.echoTime = Math.round(rng.uniform(te0, te1));
      s.repetitionTime = Math.round(rng.uniform(tr0, tr1));
    }
    sp.render.contrast =
      sp.kind === 'localizer'
        ? { ...sp.render.contrast, realistic: { field } }
        : { tr: s.repetitionTime, te: s.echoTime, realistic: { field } };
    // noise: Mendeley axial T2, SD 0.41 % of the 99th percentile (`training.realism stats`, noiseOverP99); here
    // the 99th percentile is about half the intensity scale
    sp.render.noise = rng.uniform(0.0015, 0.0035);
    // Gaussian fall-off: SPIDER sagittal T2, 0.14 of the back's signal 10 % of the FOV from the front (about 210 mm
    // from the back); Mendeley axial T2, about 0.05 at the top of the image (about 170 mm from the back)
    const length = (sp.kind === 't2_tra' ? rng.uniform(70, 100) : rng.uniform(150, 250)) * reach;
    sp.render.coil = { backY, length, floor: rng.uniform(0.02, 0.06) };
  }
}
