import { readFile } from 'node:fs/promises';
import { InputError } from '@lumbar/core';
import {
  indexFiles,
  loadStudy,
  readPart10,
  readSeriesFrames,
  selectSeries,
  sourceImageOf,
  type SourceImage,
  type LoadWarning,
  type SeriesGroup,
  type SeriesRules,
} from '@lumbar/dicom';
import type { SliceInput, StudyInput } from '@lumbar/pipeline';

/** Slice thickness assumed when a series does not state one (mm). */
const DEFAULT_THICKNESS = 4;

export interface LoadedInput {
  input: StudyInput;
  series: { sagittal: string | null; axial: string | null };
  /** The files of the selected series: the sources the DICOM outputs cite. */
  sourceFiles: string[];
  warnings: string[];
}

async function slicesOf(series: SeriesGroup | undefined): Promise<SliceInput[]> {
  if (!series) return [];
  const thickness = new Map(
    series.instances.map((i) => [i.sopInstanceUid, i.sliceThickness ?? DEFAULT_THICKNESS]),
  );
  const frames = await readSeriesFrames(series);
  return frames
    .filter((f) => f.plane !== null)
    .map((f) => ({
      sopInstanceUid: f.instanceUid,
      frame: f.frameIndex,
      plane: f.plane!,
      thickness: thickness.get(f.instanceUid) ?? DEFAULT_THICKNESS,
      pixels: f.pixels,
    }));
}

/** Where a study's files are: a folder (read recursively) or a list of files. */
export type StudySource = string | { files: readonly string[] };

/** The one study among the given files; files that cannot be read are skipped with a warning, as in a folder. */
async function loadStudyFiles(files: readonly string[]) {
  const { studies, warnings } = await indexFiles([...files].sort());
  if (studies.length !== 1) {
    throw new InputError(`${studies.length} studies found among ${files.length} files, expected one`);
  }
  return { ...studies[0], warnings };
}

/** Reads a study (folder or files), selects the sagittal T2 and the axial T2 series and decodes their slices. */
export async function loadStudyInput(source: StudySource, rules?: SeriesRules): Promise<LoadedInput> {
  const study = typeof source === 'string' ? await loadStudy(source) : await loadStudyFiles(source.files);
  const dir = typeof source === 'string' ? source : `${source.files.length} files`;
  const sel = selectSeries(study, rules);
  const find = (key: string) => {
    const uid = sel.selected[key]?.series.seriesInstanceUid;
    return study.series.find((s) => s.seriesInstanceUid === uid);
  };
  const sag = find('sagittalT2');
  const ax = find('axialT2');
  if (!sag) {
    throw new InputError(
      `${dir}: ${sel.missing.join('; ') || 'no sagittal T2 series'}: cannot locate the discs`,
    );
  }
  const warnings = [...skippedFiles(study.warnings), ...sel.missing];
  return {
    input: {
      studyInstanceUid: study.studyInstanceUid,
      sagittal: await slicesOf(sag),
      axial: await slicesOf(ax),
    },
    series: { sagittal: sag.seriesInstanceUid, axial: ax?.seriesInstanceUid ?? null },
    sourceFiles: [...sag.instances, ...(ax?.instances ?? [])].map((i) => i.file),
    warnings,
  };
}

/** The headers of the given source files, as the DICOM writers need them (patient, study, geometry). */
export async function readSourceImages(files: readonly string[]): Promise<SourceImage[]> {
  const out: SourceImage[] = [];
  for (const file of files) {
    out.push(sourceImageOf(readPart10(await readFile(file), file, { headerOnly: true }), file));
  }
  return out;
}

/** One line per reason for the files that were not read (the phantom's mask PNGs, notes, damaged files). */
export function skippedFiles(warnings: LoadWarning[]): string[] {
  const byReason = new Map<string, string[]>();
  for (const w of warnings) byReason.set(w.reason, [...(byReason.get(w.reason) ?? []), w.file]);
  return [...byReason].map(([reason, files]) =>
    files.length === 1
      ? `skipped ${files[0]}: ${reason}`
      : `skipped ${files.length} files (${reason}), for example ${files[0]}`,
  );
}
