import { DISC_LEVELS, type DiscLevel } from '@lumbar/core';
import { maskToStored } from './canonical';
import { axialStage, levelAxial, type AxialSliceResult, type GateDrop } from './axial';
import { DEFAULT_FUSION, aggregate, fuseLevel, sagittalByLevel, summarise, type FusionPolicy } from './fuse';
import { allOutOfDistribution } from './ood';
import { sagittalStage } from './sagittal';
import type {
  AnalysisResult,
  ClassifierInputs,
  DiscGrading,
  KeyImage,
  LevelFinding,
  Models,
  Predictor,
  StudyInput,
} from './types';

/** The levels the product reports (those the sagittal classifier knows). */
export const REPORT_LEVELS: readonly DiscLevel[] = ['L4-L5', 'L5-S1'];

export interface AnalyzeOptions {
  policy?: FusionPolicy;
  clock?: () => number;
  /**
   * Also return the exact inputs of the axial classifier and of the sagittal grader (AnalysisResult.classifierInputs,
   * for `lumbar finetune`). Off by default; nothing else in the result changes.
   */
  captureInputs?: boolean;
}

/** Study in, findings out: the stages composed in one place. Pure apart from the model calls. */
export async function analyzeStudy(
  study: StudyInput,
  models: Models,
  opts: AnalyzeOptions = {},
): Promise<AnalysisResult> {
  const clock = opts.clock ?? (() => performance.now());
  const t0 = clock();
  const warnings: string[] = [];
  const capture = opts.captureInputs === true;
  const sag = await sagittalStage(study.sagittal, models, { capture });
  const t1 = clock();
  if (!sag) warnings.push('no sagittal T2 slices: levels cannot be found');
  else if (sag.located.length < 2)
    warnings.push(`only ${sag.discs.length} disc(s) found on the mid-sagittal slice`);
  if (sag) {
    // a gap in the chain of discs: the levels above it are counted past the missing disc
    const places = new Set(sag.discs.map((d) => d.place));
    const fromBottom = [...DISC_LEVELS].reverse();
    for (let p = 1; p < Math.max(0, ...places); p++)
      if (!places.has(p))
        warnings.push(
          `no disc found at ${fromBottom[p - 1]} on the mid-sagittal slice: a gap in the spine's chain`,
        );
  }
  const discs = sag?.located ?? [];
  const dropped: GateDrop[] = [];
  const axial = discs.length
    ? await axialStage(study.axial, discs, REPORT_LEVELS, models, { capture, dropped })
    : [];
  for (const d of dropped)
    warnings.push(
      `axial slice ${d.sopInstanceUid}${d.frame ? ` frame ${d.frame + 1}` : ''} at ${d.level} left out: ` +
        `it cuts a vertebral body or an endplate, not a disc (slice gate P ${d.gate.notDisc.toFixed(2)})`,
    );
  if (study.axial.length === 0) warnings.push('no axial T2 slices');
  const t2 = clock();
  const policy = opts.policy ?? DEFAULT_FUSION;
  const classes = models.sagittalCls.card.output.classes;
  const gradings = sag?.gradings ?? [];
  // the sagittal herniation probability of each level on each candidate slice, then one per level: the
  // grader's on the mid-sagittal slice when it is installed (learnt on real SPIDER patients; the 3-class
  // sagittal classifier is at chance on real slices), else the classifier's on every candidate slice
  const perSlice = sag?.gradings
    ? [
        {
          sopInstanceUid: sag.slice.input.sopInstanceUid,
          byLevel: Object.fromEntries(sag.gradings.map((g) => [g.level, g.herniation])),
        },
      ]
    : (sag?.perSlice ?? []).map((p) => ({
        sopInstanceUid: p.sopInstanceUid,
        byLevel: p.probabilities ? sagittalByLevel(p.probabilities, classes) : null,
      }));
  const sagByLevel = overSlices(perSlice, policy.sagittalAggregate);
  const levels: LevelFinding[] = REPORT_LEVELS.map((level) => {
    const disc = discs.find((d) => d.level === level);
    const grading = gradings.find((g) => g.level === level) ?? null;
    const fused = disc
      ? fuseLevel(
          {
            sagittalHerniation: sagByLevel?.[level] ?? null,
            axial: levelAxial(axial, level, policy.axialAggregate),
            axialOutOfDistribution: allOutOfDistribution(
              axial.filter((a) => a.level === level).map((a) => a.evidence),
            ),
            axialSlicesWithoutDisc: dropped.filter((d) => d.level === level).length,
          },
          policy,
        )
      : {
          diagnosis: 'indeterminate' as const,
          probabilities: { healthy: 0, bulge: 0, central: 0, left: 0, right: 0 },
          reason: `the ${level} disc was not found on the sagittal images`,
        };
    return {
      level,
      ...fused,
      evidence: {
        sagittal:
          sag && disc
            ? {
                sopInstanceUid: sag.slice.input.sopInstanceUid,
                herniationProbability: sagByLevel?.[level] ?? null,
                centroid: disc.centroid.map(round2),
                perSlice: perSlice.map((p) => ({
                  sopInstanceUid: p.sopInstanceUid,
                  herniationProbability: p.byLevel ? round4(p.byLevel[level] ?? 0) : null,
                })),
              }
            : null,
        axial: axial.filter((a) => a.level === level).map((a) => a.evidence),
      },
      grading: grading && withoutLevel(grading),
    };
  });
  const t3 = clock();
  return {
    studyInstanceUid: study.studyInstanceUid,
    levels,
    summary: summarise(levels),
    discs: discs.map((d) => ({
      level: d.level,
      centroid: d.centroid.map(round2),
      areaMm2: Math.round(d.areaMm2),
    })),
    sagittalProbabilities: sag?.probabilities
      ? Object.fromEntries(models.sagittalCls.card.output.classes.map((c, i) => [c, sag.probabilities![i]]))
      : null,
    gradings,
    keyImages: keyImages(sag, axial),
    masks: [
      ...(sag
        ? [
            {
              sopInstanceUid: sag.slice.input.sopInstanceUid,
              frame: sag.slice.input.frame,
              view: 'sagittal' as const,
              levels: { all: maskToStored(sag.slice, sag.levels) },
            },
          ]
        : []),
      ...axial.map((a) => ({
        sopInstanceUid: a.evidence.sopInstanceUid,
        frame: a.evidence.frame,
        view: 'axial' as const,
        levels: { [a.level]: maskToStored(a.slice, a.mask) },
      })),
    ],
    models: Object.fromEntries(
      Object.entries(models)
        .filter(([, m]) => m !== undefined)
        .map(([role, m]) => [role, { name: m!.card.name, version: m!.card.version }]),
    ),
    warnings,
    timingsMs: {
      sagittal: round2(t1 - t0),
      axial: round2(t2 - t1),
      fusion: round2(t3 - t2),
      total: round2(t3 - t0),
    },
    ...(capture ? { classifierInputs: classifierInputs(sag, axial, models) } : {}),
  };
}

/** The captured inputs of the axial classifier and of the grader, with their levels (AnalyzeOptions.captureInputs). */
function classifierInputs(
  sag: Awaited<ReturnType<typeof sagittalStage>>,
  axial: AxialSliceResult[],
  models: Models,
): ClassifierInputs {
  const shapeOf = (m: Predictor | undefined): readonly [number, number, number] => {
    const s = m?.card.input?.shape;
    return [Number(s?.[1] ?? 0), Number(s?.[2] ?? 0), Number(s?.[3] ?? 0)];
  };
  const axShape = shapeOf(models.axialCls);
  const gShape = shapeOf(models.sagittalGrading);
  return {
    axial: axial.flatMap((a) =>
      a.input
        ? [
            {
              level: a.level,
              sopInstanceUid: a.evidence.sopInstanceUid,
              frame: a.evidence.frame,
              discAreaMm2: a.evidence.discAreaMm2,
              tensor: a.input,
              shape: axShape,
            },
          ]
        : [],
    ),
    grading: (sag?.gradings ?? []).flatMap((g, k) => {
      const tensor = sag?.gradingInputs?.[k];
      return tensor
        ? [
            {
              level: g.level,
              fromBottom: g.fromBottom,
              sopInstanceUid: g.sopInstanceUid,
              tensor,
              shape: gShape,
            },
          ]
        : [];
    }),
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round4 = (x: number) => Math.round(x * 10000) / 10000;

/** A level's grading without the level (LevelFinding.grading: the finding says its level). */
function withoutLevel(g: DiscGrading & { level: DiscLevel }): DiscGrading {
  const { level: _level, ...rest } = g;
  return rest;
}

/** Per level, the sagittal herniation probabilities of the candidate slices aggregated by the policy. */
function overSlices(
  perSlice: Array<{ byLevel: Record<string, number> | null }>,
  how: FusionPolicy['sagittalAggregate'],
): Record<string, number> | null {
  const byLevel = perSlice.flatMap((p) => (p.byLevel ? [p.byLevel] : []));
  if (byLevel.length === 0) return null;
  const out: Record<string, number> = {};
  for (const level of Object.keys(byLevel[0]))
    out[level] =
      aggregate(
        byLevel.map((b) => b[level]),
        how,
      ) ?? 0;
  return out;
}

function keyImages(sag: Awaited<ReturnType<typeof sagittalStage>>, axial: AxialSliceResult[]): KeyImage[] {
  const out: KeyImage[] = [];
  if (sag)
    out.push({
      title: 'mid-sagittal T2, discs by level',
      sopInstanceUid: sag.slice.input.sopInstanceUid,
      image: sag.slice.image,
      mask: sag.levels,
      box: sag.box,
      // each disc's level; with the grader its Pfirrmann grade (P1-P5) and flags (H herniation, B bulging,
      // N narrowing). The title stays the same: the key image's UIDs derive from it
      labels: sag.discs.map((d) => {
        const g = sag.gradings?.find((x) => x.level === d.level);
        const flags = g ? (['herniation', 'bulging', 'narrowing'] as const).filter((k) => g.flags[k]) : [];
        return {
          x: d.component.x0 - 3,
          y: Math.round(d.y),
          text: [
            d.level,
            ...(g ? [`P${g.pfirrmann.grade}`] : []),
            ...flags.map((k) => k[0].toUpperCase()),
          ].join(' '),
        };
      }),
    });
  for (const level of REPORT_LEVELS) {
    const best = axial
      .filter((a) => a.level === level)
      .sort((a, b) => b.evidence.discAreaMm2 - a.evidence.discAreaMm2)[0];
    if (best)
      out.push({
        title: `axial T2 through ${level}`,
        sopInstanceUid: best.evidence.sopInstanceUid,
        image: best.slice.image,
        mask: best.mask,
        box: best.box,
      });
  }
  return out;
}
