import type { DiscLevel } from '@lumbar/core';
import { maskToStored } from './canonical';
import { axialStage, levelAxial, type AxialSliceResult } from './axial';
import { DEFAULT_FUSION, aggregate, fuseLevel, sagittalByLevel, summarise, type FusionPolicy } from './fuse';
import { sagittalStage } from './sagittal';
import type { AnalysisResult, KeyImage, LevelFinding, Models, StudyInput } from './types';

/** The levels the product reports (those the sagittal classifier knows). */
export const REPORT_LEVELS: readonly DiscLevel[] = ['L4-L5', 'L5-S1'];

export interface AnalyzeOptions {
  policy?: FusionPolicy;
  clock?: () => number;
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
  const sag = await sagittalStage(study.sagittal, models);
  const t1 = clock();
  if (!sag) warnings.push('no sagittal T2 slices: levels cannot be found');
  else if (sag.located.length < 2)
    warnings.push(`only ${sag.discs.length} disc(s) found on the mid-sagittal slice`);
  const discs = sag?.located ?? [];
  const axial = discs.length ? await axialStage(study.axial, discs, REPORT_LEVELS, models) : [];
  if (study.axial.length === 0) warnings.push('no axial T2 slices');
  const t2 = clock();
  const policy = opts.policy ?? DEFAULT_FUSION;
  const classes = models.sagittalCls.card.output.classes;
  // the sagittal herniation probability of each level on each candidate slice, then one per level
  const perSlice = (sag?.perSlice ?? []).map((p) => ({
    sopInstanceUid: p.sopInstanceUid,
    byLevel: p.probabilities ? sagittalByLevel(p.probabilities, classes) : null,
  }));
  const sagByLevel = overSlices(perSlice, policy.sagittalAggregate);
  const levels: LevelFinding[] = REPORT_LEVELS.map((level) => {
    const disc = discs.find((d) => d.level === level);
    const fused = disc
      ? fuseLevel(
          {
            sagittalHerniation: sagByLevel?.[level] ?? null,
            axial: levelAxial(axial, level, policy.axialAggregate),
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
      Object.entries(models).map(([role, m]) => [role, { name: m.card.name, version: m.card.version }]),
    ),
    warnings,
    timingsMs: {
      sagittal: round2(t1 - t0),
      axial: round2(t2 - t1),
      fusion: round2(t3 - t2),
      total: round2(t3 - t0),
    },
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round4 = (x: number) => Math.round(x * 10000) / 10000;

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
