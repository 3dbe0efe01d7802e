/** Tissue codes of the phantom (one byte per sample). */
export const T = {
  Air: 0,
  Skin: 1,
  Fat: 2,
  Muscle: 3,
  Abdomen: 4,
  Marrow: 5,
  Cortex: 6,
  Annulus: 7,
  Nucleus: 8,
  Herniation: 9,
  Csf: 10,
  Root: 11,
  Ligament: 12,
  Vessel: 13,
  FacetFluid: 14,
  EpiduralFat: 15,
} as const;
export const TISSUE_COUNT = 16;

/** Proton density (relative) and relaxation times (ms) at 1.5-3 T, approximate literature values. */
const PROPS: ReadonlyArray<readonly [pd: number, t1: number, t2: number]> = [
  [0, 1, 1], // air
  [0.7, 900, 40], // skin
  [0.9, 260, 150], // fat (TSE: J-coupling keeps fat bright on T2)
  [0.7, 900, 45], // muscle
  [0.75, 800, 80], // abdomen (bowel, mesentery)
  [0.85, 500, 90], // marrow (fatty lumbar marrow)
  [0.05, 1000, 5], // cortical bone, endplates
  [0.6, 1000, 40], // annulus fibrosus
  [0.9, 1200, 120], // nucleus pulposus (healthy; degeneration lowers T2 per disc)
  [0.85, 1100, 85], // herniated disc material
  [1.0, 4000, 2000], // CSF
  [0.7, 900, 70], // nerve roots
  [0.3, 800, 20], // ligaments, dura
  [0.05, 1200, 50], // flowing blood: flow void on spin echo
  [1.0, 3000, 1200], // facet joint fluid
  [0.9, 260, 150], // epidural fat
];

export interface Contrast {
  tr: number;
  te: number;
  /** Nucleus T2 of each disc, by disc label (1..6), for degeneration. */
  nucleusT2?: ArrayLike<number>;
}

/** Signal of each tissue for a spin-echo weighting: PD * (1 - exp(-TR/T1)) * exp(-TE/T2). */
export function tissueSignal(c: Contrast): Float64Array {
  const s = new Float64Array(TISSUE_COUNT);
  PROPS.forEach(([pd, t1, t2], i) => {
    s[i] = pd * (1 - Math.exp(-c.tr / t1)) * Math.exp(-c.te / t2);
  });
  return s;
}

export function nucleusSignal(c: Contrast, t2: number): number {
  const [pd, t1] = PROPS[T.Nucleus];
  return pd * (1 - Math.exp(-c.tr / t1)) * Math.exp(-c.te / t2);
}
