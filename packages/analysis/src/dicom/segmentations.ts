import { ALGORITHM, DISC_LEVELS, InputError, discLabel } from '@lumbar/core';
import {
  CODES,
  DISC_CODES,
  SEGMENTATION_STORAGE,
  segmentationDataset,
  writePart10,
  type LabelMap,
  type SegFrame,
  type SegmentDefinition,
} from '@lumbar/dicom';
import { COLOURS } from '../overlay';
import { SERIES_NUMBERS, type BuiltSeg, type Context, type View } from './context';

/** The label maps of every masked slice, by source series, several maps of one slice merged. */
export function segmentations(ctx: Context, warnings: string[]): BuiltSeg[] {
  const bySeries = new Map<string, { view: View; frames: Map<string, SegFrame & { labels: Labels }> }>();
  for (const m of ctx.result.masks) {
    const source = ctx.source(m.sopInstanceUid);
    let entry = bySeries.get(source.seriesInstanceUid);
    if (!entry) bySeries.set(source.seriesInstanceUid, (entry = { view: m.view, frames: new Map() }));
    const key = `${m.sopInstanceUid}#${m.frame}`;
    const labels = entry.frames.get(key)?.labels ?? {
      width: source.columns,
      height: source.rows,
      data: new Uint8Array(source.rows * source.columns),
    };
    for (const map of Object.values(m.levels)) mergeInto(labels, map);
    entry.frames.set(key, { source, frame: m.frame, labels });
  }
  const out: BuiltSeg[] = [];
  for (const [seriesUid, { view, frames }] of bySeries) {
    const ids = ctx.uids(`seg:${seriesUid}`, 'seg');
    const built = tryInput(warnings, `no ${view} SEG`, () =>
      segmentationDataset({
        frames: [...frames.values()],
        segments: segmentDefinitions(ctx, view),
        algorithm: ctx.algorithm,
        ids: {
          ...ids,
          seriesNumber: SERIES_NUMBERS[view],
          instanceNumber: 1,
          seriesDescription: `${ALGORITHM.name} discs ${view} - not for primary diagnosis`,
        },
        createdAt: ctx.createdAt,
        contentDescription: `Intervertebral discs (${view}) - not for primary diagnosis`,
      }),
    );
    if (!built) continue;
    const n = out.filter((o) => o.view === view).length;
    out.push({
      file: `seg-${view}${n ? `-${n + 1}` : ''}.dcm`,
      kind: 'seg',
      view,
      sopClassUid: SEGMENTATION_STORAGE,
      ...ids,
      segments: built.segments.map((s) => ({
        segmentNumber: s.segmentNumber,
        level: DISC_LEVELS[s.label - 1],
      })),
      written: built.segments,
      bytes: writePart10(built.dataset),
    });
  }
  return out;
}

type Labels = LabelMap & { data: Uint8Array };

/** Runs a step whose bad input (a source without geometry) costs only that object: a warning, null. */
function tryInput<T>(warnings: string[], what: string, fn: () => T): T | null {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    warnings.push(`${what}: ${err.message}`);
    return null;
  }
}

function mergeInto(target: Labels, map: LabelMap): void {
  if (map.width !== target.width || map.height !== target.height) {
    throw new InputError(
      `mask ${map.width}x${map.height} does not fit its slice ${target.width}x${target.height}`,
    );
  }
  for (let i = 0; i < map.data.length; i++) if (map.data[i] && !target.data[i]) target.data[i] = map.data[i];
}

function segmentDefinitions(ctx: Context, view: View): SegmentDefinition[] {
  return DISC_LEVELS.map((level) => ({
    label: discLabel(level),
    segmentLabel: `${level} disc`,
    description:
      `${level} intervertebral disc on the ${view} T2 images, segmented automatically by ` +
      `${ALGORITHM.name} ${ALGORITHM.version}. ${ALGORITHM.disclaimer}`,
    category: CODES.anatomicalStructure,
    type: DISC_CODES[level],
    trackingId: `${level} disc`,
    trackingUid: ctx.trackingUid(level),
    colour: COLOURS[discLabel(level)],
  }));
}
