import { AxialClass, DiscLevel } from '@lumbar/core';
import { ImagePlane, MrSeries, PatientStudy, Vec3, centredPlane, deterministicUid } from '@lumbar/dicom';
import { Anatomy, buildAnatomy } from './anatomy';
import { Rng } from './rng';
import { RenderOptions } from './render';

/** The levels whose truth the phantom reports, and the axial blocks it acquires. */
export const REPORTED_LEVELS: readonly DiscLevel[] = ['L3-L4', 'L4-L5', 'L5-S1'];

export type SeriesKind = 'localizer' | 't1_sag' | 't2_sag' | 't2_tra';

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
export function planStudy(seed: string | number, index: number): StudyPlan {
  const rng = new Rng(`lumbar-phantom/${seed}/${index}`);
  const truth = {} as Record<DiscLevel, AxialClass>;
  for (const level of REPORTED_LEVELS) truth[level] = rng.weighted(PATHOLOGY_WEIGHTS[level]);
  const anatomy = buildAnatomy(rng.fork('anatomy'), { levels: truth });
  const uid = (...parts: Array<string | number>) => deterministicUid('lumbar-phantom', seed, index, ...parts);
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
  const sagCentre: Vec3 = [
    anatomy.x0,
    spineY + 15 + rng.uniform(-10, 10),
    (top + bottom) / 2 + rng.uniform(-10, 10),
  ];
  const sagFov = Math.max(280, (top - bottom) * 1.25) + rng.uniform(0, 40);

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
  const psiSag = (rng.uniform(-10, 10) * Math.PI) / 180;
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
  const axFov = rng.uniform(180, 240);
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
    const shiftB = 22 + rng.uniform(-8, 8);
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

  return { index, folder: `study-${number}`, anatomy, truth, study, series };
}
