import { InputError } from '@lumbar/core';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Frame, decodeFrames } from './decode';
import { InstanceHeader, instanceHeader } from './instance';
import { readPart10 } from './read';
import { SeriesGroup, StudyGroup, groupInstances } from './series';

// The file-system edge of the package: everything else here is pure and takes datasets or headers.

export interface LoadWarning {
  file: string;
  reason: string;
}

export interface LoadedStudies {
  /** Headers only: pixels are read again and decoded when asked for (readFrames, readSeriesFrames). */
  studies: StudyGroup[];
  /** Files that were skipped (not DICOM, damaged, no UIDs), with the reason. */
  warnings: LoadWarning[];
  /** How many files were looked at. */
  files: number;
}

/** Every regular file under `dir`, sorted; symbolic links are not followed. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Reads the header of one file (up to Pixel Data). Throws an InputError naming the file. */
export async function readInstanceHeader(file: string): Promise<InstanceHeader> {
  return instanceHeader(readPart10(await readFile(file), file, { headerOnly: true }), file);
}

/**
 * Walks a folder and indexes every DICOM file in it by study and series. Files that are not DICOM (the
 * phantom's mask PNGs, a README) or cannot be parsed are skipped with a warning naming them.
 */
export async function loadStudies(dir: string, concurrency = 8): Promise<LoadedStudies> {
  return indexFiles(await listFiles(dir), concurrency);
}

/**
 * Reads the headers of the given files and indexes them by study and series, as loadStudies does for a folder:
 * files that are not DICOM or cannot be parsed are skipped with a warning naming them.
 */
export async function indexFiles(files: readonly string[], concurrency = 8): Promise<LoadedStudies> {
  const headers: InstanceHeader[] = [];
  const warnings: LoadWarning[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const file = files[next++];
      try {
        headers.push(await readInstanceHeader(file));
      } catch (err) {
        if (!(err instanceof InputError) && (err as NodeJS.ErrnoException).code === undefined) throw err;
        const reason = err instanceof Error ? err.message.replace(`${file}: `, '') : String(err);
        warnings.push({ file, reason });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, files.length)) }, worker));
  warnings.sort((a, b) => a.file.localeCompare(b.file));
  return { studies: groupInstances(headers), warnings, files: files.length };
}

/** The one study in a folder; an InputError when it holds none or several. */
export async function loadStudy(dir: string): Promise<StudyGroup & { warnings: LoadWarning[] }> {
  const { studies, warnings } = await loadStudies(dir);
  if (studies.length !== 1) {
    throw new InputError(`${dir}: ${studies.length} studies found, expected one`, { dir, warnings });
  }
  return { ...studies[0], warnings };
}

/** Reads and decodes the frames of one instance. */
export async function readFrames(instance: Pick<InstanceHeader, 'file'>): Promise<Frame[]> {
  return decodeFrames(readPart10(await readFile(instance.file), instance.file), instance.file);
}

/** Reads and decodes every frame of a series, instance by instance, in the series' order. */
export async function readSeriesFrames(series: SeriesGroup): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (const instance of series.instances) frames.push(...(await readFrames(instance)));
  return frames;
}
