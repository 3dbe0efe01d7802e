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
  /** Realistic style only. */
  Kidney: 16,
} as const;
export const TISSUE_COUNT = 17;

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
  [0.9, 1100, 85], // kidney
];

/**
 * The realistic style's changes to the table (docs/PHANTOM.md, "Realism"): fatty marrow brighter against the disc
 * (SPIDER T2 SPACE masks: vertebra / disc 2.96, median of 630 slices, `python -m training.realism stats`); muscle
 * (about a quarter of fat at TE 100 instead of a sixth), annulus, ligaments and bowel set by eye on the side-by-side
 * montage, not measured.
 */
const REALISTIC_PROPS: Readonly<Record<number, readonly [number, number, number]>> = {
  [T.Muscle]: [0.75, 900, 55],
  [T.Marrow]: [0.9, 420, 110],
  [T.Ligament]: [0.3, 800, 25],
  [T.Annulus]: [0.65, 1000, 45],
  [T.Abdomen]: [0.65, 900, 60],
};

/** Fat keeps its T1 at 3 T; the T1 of water-based tissues grows by about a quarter from 1.5 T to 3 T. */
const FAT_LIKE = new Set<number>([T.Fat, T.EpiduralFat, T.Marrow]);

export interface Contrast {
  tr: number;
  te: number;
  /** Nucleus T2 of each disc, by disc label (1..6), for degeneration. */
  nucleusT2?: ArrayLike<number>;
  /** Realistic style: its tissue table, with T1 longer at 3 T. Absent in the classic style. */
  realistic?: { field: number };
}

function props(c: Contrast, i: number): readonly [number, number, number] {
  const base = PROPS[i];
  if (!c.realistic) return base;
  const [pd, t1, t2] = REALISTIC_PROPS[i] ?? base;
  return [pd, c.realistic.field >= 2.5 && !FAT_LIKE.has(i) ? t1 * 1.25 : t1, t2];
}

/** Signal of each tissue for a spin-echo weighting: PD * (1 - exp(-TR/T1)) * exp(-TE/T2). */
export function tissueSignal(c: Contrast): Float64Array {
  const s = new Float64Array(TISSUE_COUNT);
  for (let i = 0; i < TISSUE_COUNT; i++) {
    const [pd, t1, t2] = props(c, i);
    s[i] = pd * (1 - Math.exp(-c.tr / t1)) * Math.exp(-c.te / t2);
  }
  return s;
}

export function nucleusSignal(c: Contrast, t2: number): number {
  const [pd, t1] = props(c, T.Nucleus);
  return pd * (1 - Math.exp(-c.tr / t1)) * Math.exp(-c.te / t2);
}
