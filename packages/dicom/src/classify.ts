import { ImagePlane, planeNormal } from './geometry';
import type { InstanceHeader } from './instance';
import { Orientation, SeriesRules } from './series-rules';

export type PlaneOrientation = Orientation | 'oblique';
const AXES: readonly Orientation[] = ['sagittal', 'coronal', 'axial']; // normal along x, y, z (LPS)

/** Sagittal, coronal or axial by the dominant axis of the plane's normal, if within that axis' tolerance. */
export function planeOrientation(
  plane: Pick<ImagePlane, 'row' | 'col'>,
  toleranceDegrees: Record<Orientation, number>,
): { orientation: PlaneOrientation; angle: number } {
  const n = planeNormal(plane).map(Math.abs);
  const axis = n.indexOf(Math.max(...n));
  const angle = (Math.acos(Math.min(1, n[axis])) * 180) / Math.PI;
  return { orientation: angle <= toleranceDegrees[AXES[axis]] ? AXES[axis] : 'oblique', angle };
}

/** One series as the rules see it. `problems` rule it out whatever the target. */
export interface SeriesClass {
  seriesInstanceUid: string;
  seriesNumber: number | null;
  description: string;
  protocolName: string;
  /** Every ImageType value of its instances. */
  imageTypes: string[];
  images: number;
  orientation: PlaneOrientation | 'mixed' | 'unknown';
  /** Largest angle between a slice normal and its axis, in degrees. */
  maxAngle: number;
  weighting: string | null;
  /** Weighting named by the description or protocol name, and the one EchoTime/RepetitionTime fit. */
  weightingByName: string | null;
  weightingByTiming: string | null;
  problems: string[];
}

const matchesAny = (patterns: RegExp[], texts: string[]): RegExp | undefined =>
  patterns.find((p) => texts.some((t) => t && p.test(t)));
const inRange = (x: number | null, [lo, hi]: readonly [number, number]) => x !== null && x >= lo && x <= hi;
const median = (xs: number[]): number | null =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null;

/** Classifies the instances of one series (same SeriesInstanceUID) by the rules. */
export function classifySeries(instances: InstanceHeader[], rules: SeriesRules): SeriesClass {
  const first = instances[0];
  const names = [first.seriesDescription, first.protocolName];
  const imageTypes = new Set(instances.flatMap((i) => i.imageType));
  const withPixels = instances.filter((i) => i.hasPixelData);
  const images = withPixels.reduce((n, i) => n + i.frames, 0);
  const planes = withPixels.flatMap((i) => i.planes).filter((p): p is ImagePlane => p !== null);
  const classes = planes.map((p) => planeOrientation(p, rules.toleranceDegrees));
  const kinds = [...new Set(classes.map((c) => c.orientation))];
  const problems: string[] = [];

  const modality = first.modality;
  if (!rules.modalities.includes(modality))
    problems.push(`modality ${modality || '(none)'} is not ${rules.modalities.join('/')}`);
  const locType = rules.localizer.imageTypes.find((t) => imageTypes.has(t));
  if (locType) problems.push(`localizer: ImageType ${locType}`);
  const locName = matchesAny(rules.localizer.descriptions, names);
  if (locName) problems.push(`localizer: description matches /${locName.source}/`);
  const exType = rules.exclude.imageTypes.find((t) => imageTypes.has(t));
  if (exType) problems.push(`excluded: ImageType ${exType}`);
  const exName = matchesAny(rules.exclude.descriptions, names);
  if (exName) problems.push(`excluded: description matches /${exName.source}/`);
  if (images < rules.minImages) problems.push(`${images} image(s), fewer than ${rules.minImages}`);
  if (planes.length < images)
    problems.push(`${images - planes.length} image(s) without position/orientation`);
  if (kinds.length > 1) {
    const counts = kinds.map((k) => `${classes.filter((c) => c.orientation === k).length} ${k}`);
    problems.push(`mixed orientations (${counts.join(', ')})`);
  }

  const byName = Object.keys(rules.weighting).filter((w) =>
    matchesAny(rules.weighting[w].descriptions, names),
  );
  const te = median(instances.map((i) => i.echoTime).filter((x): x is number => x !== null));
  const tr = median(instances.map((i) => i.repetitionTime).filter((x): x is number => x !== null));
  const byTiming = Object.keys(rules.weighting).filter(
    (w) => inRange(te, rules.weighting[w].echoTimeMs) && inRange(tr, rules.weighting[w].repetitionTimeMs),
  );
  const weightingByName = byName.length === 1 ? byName[0] : null;
  const weightingByTiming = byTiming.length === 1 ? byTiming[0] : null;
  let weighting = weightingByName ?? weightingByTiming;
  if (byName.length > 1) problems.push(`description names several weightings (${byName.join(', ')})`);
  if (weightingByName && weightingByTiming && weightingByName !== weightingByTiming) {
    problems.push(
      `description says ${weightingByName} but TE ${te} ms / TR ${tr} ms fit ${weightingByTiming}`,
    );
    weighting = null;
  }

  return {
    seriesInstanceUid: first.seriesInstanceUid,
    seriesNumber: first.seriesNumber,
    description: first.seriesDescription || first.protocolName,
    protocolName: first.protocolName,
    imageTypes: [...imageTypes],
    images,
    orientation: kinds.length === 1 ? kinds[0] : kinds.length === 0 ? 'unknown' : 'mixed',
    maxAngle: classes.reduce((m, c) => Math.max(m, c.angle), 0),
    weighting,
    weightingByName,
    weightingByTiming,
    problems,
  };
}
