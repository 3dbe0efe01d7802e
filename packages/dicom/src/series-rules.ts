import { InputError } from '@lumbar/core';
import defaults from './series-rules.json';

export const ORIENTATIONS = ['sagittal', 'coronal', 'axial'] as const;
export type Orientation = (typeof ORIENTATIONS)[number];
export type Range = readonly [number, number];

export interface WeightingRule {
  descriptions: RegExp[];
  echoTimeMs: Range;
  repetitionTimeMs: Range;
}

export interface Penalty {
  why: string;
  description?: RegExp;
  imageType?: string;
  score: number;
}

/** Series selection rules: JSON data (series-rules.json plus an optional override), validated. */
export interface SeriesRules {
  modalities: string[];
  minImages: number;
  toleranceDegrees: Record<Orientation, number>;
  localizer: { imageTypes: string[]; descriptions: RegExp[] };
  exclude: { imageTypes: string[]; descriptions: RegExp[] };
  weighting: Record<string, WeightingRule>;
  penalties: Penalty[];
  targets: Record<string, { orientation: Orientation; weighting: string }>;
}

type Json = Record<string, unknown>;
const TOP_LEVEL = [
  'modalities',
  'minImages',
  'orientation',
  'localizer',
  'exclude',
  'weighting',
  'penalties',
  'targets',
];
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge of JSON objects: the override's values win, lists and scalars are replaced whole. */
export function mergeJson(base: unknown, override: unknown): unknown {
  if (!isObject(base) || !isObject(override)) return override === undefined ? base : override;
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(override)) out[k] = mergeJson(base[k], v);
  return out;
}

/** Validates raw rules JSON; every problem names the source and the path of the bad value. */
export function parseSeriesRules(raw: unknown, source: string): SeriesRules {
  const fail = (path: string, why: string): never => {
    throw new InputError(`series rules ${source}: "${path}" ${why}`, { source, path });
  };
  const get = (path: string): unknown =>
    path.split('.').reduce<unknown>((o, k) => (isObject(o) ? o[k] : undefined), raw);
  const num = (path: string, min: number, max: number, v = get(path)): number =>
    typeof v === 'number' && v >= min && v <= max ? v : fail(path, `must be a number from ${min} to ${max}`);
  const str = (path: string, v: unknown): string =>
    typeof v === 'string' && v.trim() ? v : fail(path, 'must be a non-empty string');
  const list = (path: string, v = get(path)): unknown[] =>
    Array.isArray(v) ? v : fail(path, 'must be a list');
  const regex = (path: string, v: unknown): RegExp => {
    try {
      return new RegExp(str(path, v), 'i');
    } catch (err) {
      return fail(path, `is not a valid regular expression: ${(err as Error).message}`);
    }
  };
  const regexes = (path: string) => list(path).map((v, i) => regex(`${path}[${i}]`, v));
  const strings = (path: string) => list(path).map((v, i) => str(`${path}[${i}]`, v).toUpperCase());
  const range = (path: string): Range => {
    const [lo, hi] = list(path).map((v, i) => num(`${path}[${i}]`, 0, 1e6, v));
    return lo !== undefined && hi !== undefined && lo <= hi ? [lo, hi] : fail(path, 'must be [min, max]');
  };
  const entries = (path: string): Array<[string, Json]> => {
    const v = get(path);
    if (!isObject(v) || Object.keys(v).length === 0) fail(path, 'must be a non-empty object');
    return Object.entries(v as Json)
      .filter(([k]) => !k.startsWith('$'))
      .map(([k, item]) => (isObject(item) ? [k, item] : fail(`${path}.${k}`, 'must be an object')));
  };

  if (!isObject(raw)) fail('', 'must be a JSON object');
  for (const key of Object.keys(raw as Json)) {
    if (!key.startsWith('$') && !TOP_LEVEL.includes(key))
      fail(key, `is not a known setting (${TOP_LEVEL.join(', ')})`);
  }
  const weighting: Record<string, WeightingRule> = {};
  for (const [name] of entries('weighting')) {
    const p = `weighting.${name}`;
    weighting[name] = {
      descriptions: regexes(`${p}.descriptions`),
      echoTimeMs: range(`${p}.echoTimeMs`),
      repetitionTimeMs: range(`${p}.repetitionTimeMs`),
    };
  }
  const targets: SeriesRules['targets'] = {};
  for (const [name, t] of entries('targets')) {
    const orientation = t.orientation as Orientation;
    if (!ORIENTATIONS.includes(orientation))
      fail(`targets.${name}.orientation`, `must be one of ${ORIENTATIONS.join(', ')}`);
    if (!(String(t.weighting) in weighting))
      fail(`targets.${name}.weighting`, 'must name a "weighting" entry');
    targets[name] = { orientation, weighting: String(t.weighting) };
  }
  const penalties = list('penalties').map((v, i): Penalty => {
    const p = `penalties[${i}]`;
    if (!isObject(v)) return fail(p, 'must be an object');
    if (v.description === undefined && v.imageType === undefined)
      fail(p, 'needs "description" or "imageType"');
    return {
      why: str(`${p}.why`, v.why),
      description: v.description === undefined ? undefined : regex(`${p}.description`, v.description),
      imageType: v.imageType === undefined ? undefined : str(`${p}.imageType`, v.imageType).toUpperCase(),
      score: num(`${p}.score`, -100, 100, v.score),
    };
  });
  const tolerance = (o: Orientation) => num(`orientation.toleranceDegrees.${o}`, 0, 54.7);
  return {
    modalities: strings('modalities'),
    minImages: num('minImages', 1, 10000),
    toleranceDegrees: {
      sagittal: tolerance('sagittal'),
      coronal: tolerance('coronal'),
      axial: tolerance('axial'),
    },
    localizer: {
      imageTypes: strings('localizer.imageTypes'),
      descriptions: regexes('localizer.descriptions'),
    },
    exclude: { imageTypes: strings('exclude.imageTypes'), descriptions: regexes('exclude.descriptions') },
    weighting,
    penalties,
    targets,
  };
}

/** The shipped defaults, merged with an override (already parsed JSON) when given. */
export function seriesRules(override?: unknown, source = 'override'): SeriesRules {
  if (override === undefined) return parseSeriesRules(defaults, 'series-rules.json');
  if (!isObject(override)) throw new InputError(`series rules ${source}: not a JSON object`, { source });
  return parseSeriesRules(mergeJson(defaults, override), source);
}

export const DEFAULT_SERIES_RULES: SeriesRules = seriesRules();
