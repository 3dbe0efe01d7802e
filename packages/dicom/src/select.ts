import { SeriesClass, classifySeries } from './classify';
import type { StudyGroup } from './series';
import { DEFAULT_SERIES_RULES, SeriesRules } from './series-rules';

export interface SelectedSeries {
  series: SeriesClass;
  score: number;
  /** How the score was made up, for the log and the report. */
  why: string[];
}

export interface StudySelection {
  studyInstanceUid: string;
  /** The best series for each target of the rules (by default sagittalT2 and axialT2), or null. */
  selected: Record<string, SelectedSeries | null>;
  /** One sentence per target without a series, e.g. "no axial T2 series". */
  missing: string[];
  /** Every series that was not selected, with the reasons. */
  rejected: Array<{ series: SeriesClass; reasons: string[] }>;
}

type Target = SeriesRules['targets'][string];

/** The score of a series for a target, or the reason it does not qualify. */
export function scoreSeries(
  s: SeriesClass,
  target: Target,
  rules: SeriesRules,
): { score: number; why: string[] } | { reason: string } {
  if (s.problems.length) return { reason: s.problems.join('; ') };
  if (s.orientation !== target.orientation || s.weighting !== target.weighting) {
    return { reason: `it is ${s.orientation} ${s.weighting ?? 'of unknown weighting'}` };
  }
  let score = 10;
  const why = ['orientation and weighting match: 10'];
  const add = (points: number, text: string) => {
    score += points;
    why.push(`${text}: ${points >= 0 ? '+' : ''}${Math.round(points * 100) / 100}`);
  };
  if (s.weightingByName === target.weighting) add(3, `description names ${target.weighting}`);
  if (s.weightingByTiming === target.weighting) add(3, `TE/TR fit ${target.weighting}`);
  for (const p of rules.penalties) {
    const byName = p.description && [s.description, s.protocolName].some((n) => n && p.description?.test(n));
    const byType = p.imageType !== undefined && s.imageTypes.includes(p.imageType);
    if (byName || byType) add(p.score, p.why);
  }
  add(1 - s.maxAngle / 90, `slices within ${s.maxAngle.toFixed(1)} degrees of ${target.orientation}`);
  add(Math.min(s.images, 40) / 40, `${s.images} images`);
  return { score, why };
}

/** "not sagittalT2: it is sagittal T1" for every target becomes one "it is sagittal T1: no target wants it". */
function merge(reasons: string[]): string[] {
  const texts = new Set(reasons.map((r) => r.replace(/^not [^:]+: /, '')));
  const [only] = texts;
  return texts.size === 1 && reasons.length > 1 && only.startsWith('it is ')
    ? [`${only}: no target wants it`]
    : reasons;
}

const label = (s: SeriesClass) => `series ${s.seriesNumber ?? '?'} "${s.description}"`;

/**
 * Picks the best series of a study for each target of the rules: the highest score, then the most images,
 * then the latest series (a repeat after motion). Never throws for a study that lacks a target.
 */
export function selectSeries(study: StudyGroup, rules: SeriesRules = DEFAULT_SERIES_RULES): StudySelection {
  const classes = study.series.map((g) => classifySeries(g.instances, rules));
  const selected: StudySelection['selected'] = {};
  const missing: string[] = [];
  const reasons = new Map<SeriesClass, string[]>(classes.map((c) => [c, []]));
  for (const [name, target] of Object.entries(rules.targets)) {
    const ranked = classes
      .map((series) => ({ series, result: scoreSeries(series, target, rules) }))
      .flatMap(({ series, result }) => {
        if ('score' in result) return [{ series, ...result }];
        if (!series.problems.length) reasons.get(series)?.push(`not ${name}: ${result.reason}`);
        return [];
      })
      .filter(({ series }) => !Object.values(selected).some((s) => s?.series === series))
      .sort(
        (a, b) =>
          b.score - a.score ||
          b.series.images - a.series.images ||
          (b.series.seriesNumber ?? 0) - (a.series.seriesNumber ?? 0),
      );
    const best = ranked[0];
    selected[name] = best ?? null;
    if (!best) missing.push(`no ${target.orientation} ${target.weighting} series`);
    for (const other of ranked.slice(1)) {
      const [a, b] = [other.score.toFixed(2), best.score.toFixed(2)];
      reasons.get(other.series)?.push(`not ${name}: scored ${a}, below ${label(best.series)} with ${b}`);
    }
  }
  const chosen = new Set(Object.values(selected).map((s) => s?.series));
  const rejected = classes
    .filter((c) => !chosen.has(c))
    .map((series) => ({
      series,
      reasons: series.problems.length ? series.problems : merge(reasons.get(series) ?? []),
    }));
  return { studyInstanceUid: study.studyInstanceUid, selected, missing, rejected };
}
