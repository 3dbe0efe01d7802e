import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { AXIAL_CLASSES, DISC_LEVELS, InputError, type AxialClass, type DiscLevel } from '@lumbar/core';
import { readPart10 } from '@lumbar/dicom';

// A site's reference standard: one row per study and disc level, as `lumbar validate` and
// `lumbar finetune` read it (docs/SITE-VALIDATION.md says how to write one from RIS reports).

/** One row of labels.csv. */
export interface SiteLabel {
  /** The line of the CSV file the row starts on (the header is line 1). */
  line: number;
  studyInstanceUid: string;
  level: DiscLevel;
  diagnosis: AxialClass;
  herniation?: 0 | 1;
  bulging?: 0 | 1;
  narrowing?: 0 | 1;
  pfirrmann?: 1 | 2 | 3 | 4 | 5;
  patientId?: string;
  /** The CSV file the row came from, when known: for messages that name file:line. */
  file?: string;
}

/** One study folder of a site's DIR. */
export interface SiteStudy {
  dir: string;
  studyInstanceUid: string;
  patientId: string | null;
}

/** The columns of labels.csv: the first three are required. */
export const LABEL_COLUMNS = [
  'study_instance_uid',
  'level',
  'diagnosis',
  'herniation',
  'bulging',
  'narrowing',
  'pfirrmann',
  'patient_id',
] as const;
const REQUIRED = ['study_instance_uid', 'level', 'diagnosis'] as const;
type Column = (typeof LABEL_COLUMNS)[number];

interface CsvRecord {
  line: number;
  fields: string[];
}

/** Splits CSV text into records (RFC 4180 quoting; CRLF or LF), keeping the line each record starts on. */
export function splitCsv(text: string, delimiter = ','): CsvRecord[] {
  const out: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let fieldStarted = false;
  const endRecord = (): void => {
    fields.push(field);
    if (fields.length > 1 || fields[0].trim() !== '') out.push({ line: start, fields });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field.trim() === '') {
      quoted = true;
      field = '';
      fieldStarted = true;
    } else if (c === delimiter) {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      field += c;
    }
  }
  if (quoted) throw new InputError(`line ${start}: a quoted field is not closed`, { line: start });
  if (field !== '' || fields.length > 0 || fieldStarted) endRecord();
  return out;
}

const LEVEL_HINT = `expected one of ${DISC_LEVELS.join(', ')}`;

/** A disc level from the spellings reports use: L4-L5, L4/L5, L4L5, L4-5, l4_l5, L5-S1, T12/L1. */
export function parseLevel(value: string): DiscLevel | null {
  const s = value.trim().toUpperCase().replace(/\s+/g, '');
  const m = /^([TL])(\d{1,2})[-/_–.]?([TLS]?)(\d)$/.exec(s);
  if (!m) return null;
  const [, upperLetter, upperNum, lowerLetterGiven, lowerNum] = m;
  let lowerLetter = lowerLetterGiven;
  if (!lowerLetter) {
    if (upperLetter === 'T' && upperNum === '12') lowerLetter = 'L';
    else if (upperLetter === 'L' && upperNum === '5') lowerLetter = 'S';
    else lowerLetter = upperLetter;
  }
  const level = `${upperLetter}${upperNum}-${lowerLetter}${lowerNum}`;
  return (DISC_LEVELS as readonly string[]).includes(level) ? (level as DiscLevel) : null;
}

/** The header name of a column, loosely: "Study Instance UID", "studyInstanceUID", "study_instance_uid". */
function columnOf(name: string): Column | null {
  const key = name
    .replace(/^\uFEFF/, '')
    .trim()
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  const aliases: { [k: string]: Column } = {
    study_instance_uid: 'study_instance_uid',
    study_uid: 'study_instance_uid',
    studyinstanceuid: 'study_instance_uid',
    study_instance_u_i_d: 'study_instance_uid',
    level: 'level',
    disc_level: 'level',
    diagnosis: 'diagnosis',
    herniation: 'herniation',
    bulging: 'bulging',
    narrowing: 'narrowing',
    pfirrmann: 'pfirrmann',
    patient_id: 'patient_id',
    patientid: 'patient_id',
    patient_i_d: 'patient_id',
  };
  return aliases[key] ?? null;
}

/**
 * Parses labels.csv. The header row is required; the columns may come in any order. Every bad row throws
 * an InputError naming `file:line` and the bad value: a missing column, an unknown level or class, a flag
 * that is not 0/1, a Pfirrmann grade outside 1-5, a (study, level) pair given twice.
 */
export function parseSiteLabels(text: string, file = 'labels.csv'): SiteLabel[] {
  const body = text.replace(/^\uFEFF/, '');
  const firstLine = body.split(/\r?\n/, 1)[0] ?? '';
  // Spreadsheets in many locales save CSV with semicolons.
  const delimiter = !firstLine.includes(',') && firstLine.includes(';') ? ';' : ',';
  let records: CsvRecord[];
  try {
    records = splitCsv(body, delimiter);
  } catch (err) {
    throw new InputError(`${file}: ${(err as Error).message}`, { file });
  }
  const at = (line: number, msg: string): InputError =>
    new InputError(`${file}:${line}: ${msg}`, { file, line });
  if (records.length === 0) {
    throw new InputError(
      `${file}: empty: expected a header row (${REQUIRED.join(',')}) and one row per study and level`,
      { file },
    );
  }
  const header = records[0];
  const index = new Map<Column, number>();
  header.fields.forEach((name, i) => {
    const col = columnOf(name);
    if (col === null) {
      if (name.trim() === '') return;
      throw at(
        header.line,
        `unknown column "${name.trim()}" in the header (expected ${LABEL_COLUMNS.join(', ')})`,
      );
    }
    if (index.has(col)) throw at(header.line, `column "${col}" is given twice in the header`);
    index.set(col, i);
  });
  const missing = REQUIRED.filter((c) => !index.has(c));
  if (missing.length > 0) {
    throw at(
      header.line,
      `the header lacks ${missing.join(', ')}: the first row must name the columns ` +
        `(${REQUIRED.join(',')}[,herniation,bulging,narrowing,pfirrmann,patient_id])`,
    );
  }

  const labels: SiteLabel[] = [];
  const seen = new Map<string, number>();
  for (const rec of records.slice(1)) {
    const get = (col: Column): string => {
      const i = index.get(col);
      return i === undefined ? '' : (rec.fields[i] ?? '').trim();
    };
    if (
      rec.fields.length > header.fields.length &&
      rec.fields.slice(header.fields.length).some((f) => f.trim())
    ) {
      throw at(rec.line, `${rec.fields.length} fields but the header names ${header.fields.length} columns`);
    }
    const uid = get('study_instance_uid');
    if (!uid) throw at(rec.line, 'no study_instance_uid');
    if (!/^[0-9.]+$/.test(uid) || uid.length > 64) {
      throw at(rec.line, `"${uid}" is not a DICOM UID (digits and dots, at most 64 characters)`);
    }
    const levelText = get('level');
    const level = parseLevel(levelText);
    if (!level) throw at(rec.line, `unknown level "${levelText}" (${LEVEL_HINT})`);
    const dxText = get('diagnosis');
    const dx = dxText.toLowerCase();
    if (!(AXIAL_CLASSES as readonly string[]).includes(dx)) {
      throw at(
        rec.line,
        `unknown class "${dxText}" in diagnosis (expected one of ${AXIAL_CLASSES.join(', ')})`,
      );
    }
    const label: SiteLabel = {
      line: rec.line,
      studyInstanceUid: uid,
      level,
      diagnosis: dx as AxialClass,
      file,
    };
    for (const col of ['herniation', 'bulging', 'narrowing'] as const) {
      const v = get(col);
      if (v === '') continue;
      if (v !== '0' && v !== '1') throw at(rec.line, `${col} must be 0 or 1, not "${v}"`);
      label[col] = v === '1' ? 1 : 0;
    }
    const pf = get('pfirrmann');
    if (pf !== '') {
      if (!/^[1-5]$/.test(pf)) throw at(rec.line, `pfirrmann must be a grade from 1 to 5, not "${pf}"`);
      label.pfirrmann = Number(pf) as 1 | 2 | 3 | 4 | 5;
    }
    const pid = get('patient_id');
    if (pid !== '') label.patientId = pid;
    const key = `${uid}\u0000${level}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw at(rec.line, `study ${uid} level ${level} is given twice (first on line ${first})`);
    }
    seen.set(key, rec.line);
    labels.push(label);
  }
  if (labels.length === 0) throw new InputError(`${file}: no rows after the header`, { file });
  return labels;
}

/** Reads and parses a labels.csv file; an InputError when it cannot be read. */
export function readSiteLabels(file: string): SiteLabel[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read: ${(err as Error).message}`,
      { file },
    );
  }
  return parseSiteLabels(text, file);
}

/** Every regular file below `dir`, sorted, skipping hidden entries; links are not followed. */
function filesBelow(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    const entries = readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function hasDicmPreamble(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(132);
    return readSync(fd, buf, 0, 132, 0) === 132 && buf.toString('latin1', 128, 132) === 'DICM';
  } finally {
    closeSync(fd);
  }
}

const text = (v: unknown): string =>
  (Array.isArray(v) ? v.join('\\') : String(v ?? '')).replace(/\0/g, '').trim();

/** StudyInstanceUID and PatientID of the first readable DICOM file below `dir`; null when there is none. */
function firstDicomIds(dir: string): { studyInstanceUid: string; patientId: string | null } | null {
  for (const file of filesBelow(dir)) {
    try {
      if (!hasDicmPreamble(file)) continue;
      const ds = readPart10(readFileSync(file), file, { headerOnly: true });
      const uid = text(ds.StudyInstanceUID);
      if (!uid) continue;
      return { studyInstanceUid: uid, patientId: text(ds.PatientID) || null };
    } catch {
      continue;
    }
  }
  return null;
}

/**
 * The studies of a site's DIR: one sub-folder per study, DICOM files anywhere below it. Each study is
 * named by the StudyInstanceUID (and PatientID) of its first readable DICOM file. InputError for a
 * missing or empty DIR, a sub-folder without DICOM, and two sub-folders holding the same study.
 */
export function findSiteStudies(dir: string): SiteStudy[] {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new InputError(`${dir}: no such folder`, { dir });
  }
  if (!isDir)
    throw new InputError(`${dir}: not a folder (expected one sub-folder of DICOM files per study)`, { dir });
  const subs = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (subs.length === 0) {
    const files = readdirSync(dir).filter((n) => !n.startsWith('.'));
    throw new InputError(
      files.length === 0
        ? `${dir}: empty folder: expected one sub-folder of DICOM files per study`
        : `${dir}: no sub-folders: expected one sub-folder of DICOM files per study, not files directly in it`,
      { dir },
    );
  }
  const studies: SiteStudy[] = [];
  const byUid = new Map<string, string>();
  for (const name of subs) {
    const sub = path.join(dir, name);
    const ids = firstDicomIds(sub);
    if (!ids) throw new InputError(`${sub}: no DICOM file in this study folder`, { dir: sub });
    const other = byUid.get(ids.studyInstanceUid);
    if (other !== undefined) {
      throw new InputError(
        `${sub}: holds study ${ids.studyInstanceUid}, which ${other} holds too: put each study in one folder`,
        { dir: sub },
      );
    }
    byUid.set(ids.studyInstanceUid, sub);
    studies.push({ dir: sub, ...ids });
  }
  return studies;
}

/**
 * Pairs the labels with the study folders, in the folders' order, each study's labels from the top level
 * down. A label whose study is not in DIR, or whose patient_id differs from the study's PatientID, is an
 * InputError naming its CSV line. Studies without labels are left out (see studiesWithoutLabels).
 */
export function matchSiteLabels(
  labels: SiteLabel[],
  studies: SiteStudy[],
): { study: SiteStudy; labels: SiteLabel[] }[] {
  const byUid = new Map(studies.map((s) => [s.studyInstanceUid, s]));
  const grouped = new Map<string, SiteLabel[]>();
  for (const l of labels) {
    const where = `${l.file ?? 'labels.csv'}:${l.line}`;
    const study = byUid.get(l.studyInstanceUid);
    if (!study) {
      throw new InputError(`${where}: study ${l.studyInstanceUid} is not in the studies folder`, {
        line: l.line,
        studyInstanceUid: l.studyInstanceUid,
      });
    }
    if (l.patientId !== undefined && study.patientId !== null && l.patientId !== study.patientId) {
      throw new InputError(
        `${where}: patient_id "${l.patientId}" differs from PatientID "${study.patientId}" of study ` +
          `${l.studyInstanceUid} (${study.dir})`,
        { line: l.line, studyInstanceUid: l.studyInstanceUid },
      );
    }
    grouped.set(l.studyInstanceUid, [...(grouped.get(l.studyInstanceUid) ?? []), l]);
  }
  return studies
    .filter((s) => grouped.has(s.studyInstanceUid))
    .map((study) => ({
      study,
      labels: grouped
        .get(study.studyInstanceUid)!
        .sort((a, b) => DISC_LEVELS.indexOf(a.level) - DISC_LEVELS.indexOf(b.level)),
    }));
}

/** The studies of DIR that no label names: skipped, with a warning. */
export function studiesWithoutLabels(labels: SiteLabel[], studies: SiteStudy[]): SiteStudy[] {
  const named = new Set(labels.map((l) => l.studyInstanceUid));
  return studies.filter((s) => !named.has(s.studyInstanceUid));
}
