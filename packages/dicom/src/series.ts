import type { InstanceHeader } from './instance';

export interface SeriesGroup {
  seriesInstanceUid: string;
  /** Sorted by InstanceNumber (then SOP Instance UID); one per SOP Instance UID. */
  instances: InstanceHeader[];
}

export interface StudyGroup {
  studyInstanceUid: string;
  /** Sorted by SeriesNumber. */
  series: SeriesGroup[];
}

/** Groups instance headers by StudyInstanceUID and SeriesInstanceUID; a repeated SOP Instance UID counts once. */
export function groupInstances(headers: readonly InstanceHeader[]): StudyGroup[] {
  const studies = new Map<string, Map<string, Map<string, InstanceHeader>>>();
  for (const h of headers) {
    let study = studies.get(h.studyInstanceUid);
    if (!study) studies.set(h.studyInstanceUid, (study = new Map()));
    let series = study.get(h.seriesInstanceUid);
    if (!series) study.set(h.seriesInstanceUid, (series = new Map()));
    if (!series.has(h.sopInstanceUid)) series.set(h.sopInstanceUid, h);
  }
  const byNumber = (a: number | null, b: number | null) => (a ?? Infinity) - (b ?? Infinity);
  return [...studies].map(([studyInstanceUid, study]) => ({
    studyInstanceUid,
    series: [...study]
      .map(([seriesInstanceUid, m]) => ({
        seriesInstanceUid,
        instances: [...m.values()].sort(
          (a, b) =>
            byNumber(a.instanceNumber, b.instanceNumber) || a.sopInstanceUid.localeCompare(b.sopInstanceUid),
        ),
      }))
      .sort((a, b) => byNumber(a.instances[0].seriesNumber, b.instances[0].seriesNumber)),
  }));
}
