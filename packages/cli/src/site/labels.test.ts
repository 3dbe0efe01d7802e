import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '@lumbar/core';
import { MR_IMAGE_STORAGE, writePart10 } from '@lumbar/dicom';
import {
  findSiteStudies,
  matchSiteLabels,
  parseLevel,
  parseSiteLabels,
  readSiteLabels,
  studiesWithoutLabels,
  type SiteStudy,
} from './labels';

const A = '1.2.826.0.1.3680043.2.1';
const B = '1.2.826.0.1.3680043.2.2';

/** The InputError message `fn` throws (fails the test when it throws nothing or something else). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('parseLevel', () => {
  it.each([
    ['L4-L5', 'L4-L5'],
    ['L4/L5', 'L4-L5'],
    ['L4L5', 'L4-L5'],
    ['l4-5', 'L4-L5'],
    [' L4 / L5 ', 'L4-L5'],
    ['L4_L5', 'L4-L5'],
    ['L5-S1', 'L5-S1'],
    ['L5/S1', 'L5-S1'],
    ['L5S1', 'L5-S1'],
    ['L5-1', 'L5-S1'],
    ['T12-L1', 'T12-L1'],
    ['T12/L1', 'T12-L1'],
    ['L1-L2', 'L1-L2'],
  ])('%s is %s', (text, level) => expect(parseLevel(text)).toBe(level));

  it.each(['L6-S1', 'L4-L6', 'L5-L4', 'S1', 'C5-C6', '', 'L4', 'L3-L5'])('%s is no level', (text) =>
    expect(parseLevel(text)).toBeNull(),
  );
});

describe('parseSiteLabels', () => {
  it('reads the required and optional columns in any order, any case', () => {
    const csv =
      '\uFEFFLevel,study_instance_uid,Diagnosis,herniation,bulging,narrowing,pfirrmann,patient_id\r\n' +
      `L4/L5,${A},central,1,0,1,4,P1\r\n` +
      `L5-S1,${A},Healthy,,,,,\r\n` +
      '\r\n' +
      `L5S1,${B},right,1,,,2,"P 2"\r\n`;
    const labels = parseSiteLabels(csv, 'site.csv');
    expect(labels).toEqual([
      {
        line: 2,
        file: 'site.csv',
        studyInstanceUid: A,
        level: 'L4-L5',
        diagnosis: 'central',
        herniation: 1,
        bulging: 0,
        narrowing: 1,
        pfirrmann: 4,
        patientId: 'P1',
      },
      { line: 3, file: 'site.csv', studyInstanceUid: A, level: 'L5-S1', diagnosis: 'healthy' },
      {
        line: 5,
        file: 'site.csv',
        studyInstanceUid: B,
        level: 'L5-S1',
        diagnosis: 'right',
        herniation: 1,
        pfirrmann: 2,
        patientId: 'P 2',
      },
    ]);
  });

  it('reads semicolon-separated files and quoted fields spanning lines', () => {
    const csv = `study_instance_uid;level;diagnosis;patient_id\n${A};L4-L5;bulge;"two\nlines"\n${A};L5-S1;left;x\n`;
    const labels = parseSiteLabels(csv);
    expect(labels.map((l) => [l.line, l.level, l.diagnosis, l.patientId])).toEqual([
      [2, 'L4-L5', 'bulge', 'two\nlines'],
      [4, 'L5-S1', 'left', 'x'],
    ]);
  });

  it('names the file, the line and the bad value of each bad row', () => {
    const head = 'study_instance_uid,level,diagnosis,herniation,pfirrmann\n';
    const ok = `${A},L4-L5,healthy,0,2\n`;
    expect(errorOf(() => parseSiteLabels(head + ok + `${A},L6-S1,healthy,,\n`, 'l.csv'))).toBe(
      'l.csv:3: unknown level "L6-S1" (expected one of T12-L1, L1-L2, L2-L3, L3-L4, L4-L5, L5-S1)',
    );
    expect(errorOf(() => parseSiteLabels(head + ok + `${A},L5-S1,herniated,,\n`, 'l.csv'))).toBe(
      'l.csv:3: unknown class "herniated" in diagnosis (expected one of healthy, bulge, central, left, right)',
    );
    expect(errorOf(() => parseSiteLabels(head + ok + `${A},L5-S1,left,yes,\n`, 'l.csv'))).toBe(
      'l.csv:3: herniation must be 0 or 1, not "yes"',
    );
    expect(errorOf(() => parseSiteLabels(head + ok + `${A},L5-S1,left,1,6\n`, 'l.csv'))).toBe(
      'l.csv:3: pfirrmann must be a grade from 1 to 5, not "6"',
    );
    expect(errorOf(() => parseSiteLabels(head + ok + `${A},L4/L5,bulge,0,3\n`, 'l.csv'))).toBe(
      `l.csv:3: study ${A} level L4-L5 is given twice (first on line 2)`,
    );
    expect(errorOf(() => parseSiteLabels(head + ok + `,L5-S1,healthy,,\n`, 'l.csv'))).toBe(
      'l.csv:3: no study_instance_uid',
    );
    expect(errorOf(() => parseSiteLabels(head + ok + `study-1,L5-S1,healthy,,\n`, 'l.csv'))).toMatch(
      /^l\.csv:3: "study-1" is not a DICOM UID/,
    );
    expect(errorOf(() => parseSiteLabels(head + ok + `${A},L5-S1,healthy,0,2,extra\n`, 'l.csv'))).toMatch(
      /^l\.csv:3: 6 fields but the header names 5 columns/,
    );
  });

  it('requires a header naming the required columns', () => {
    expect(errorOf(() => parseSiteLabels(`${A},L4-L5,healthy\n`, 'l.csv'))).toMatch(
      /^l\.csv:1: unknown column "1\.2\.826/,
    );
    expect(errorOf(() => parseSiteLabels('study_instance_uid,level\n', 'l.csv'))).toMatch(
      /^l\.csv:1: the header lacks diagnosis/,
    );
    expect(errorOf(() => parseSiteLabels('', 'l.csv'))).toMatch(/^l\.csv: empty/);
    expect(errorOf(() => parseSiteLabels('study_instance_uid,level,diagnosis\n', 'l.csv'))).toBe(
      'l.csv: no rows after the header',
    );
  });

  it('reads a file, and says when there is none', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'labels-'));
    try {
      const file = path.join(dir, 'labels.csv');
      writeFileSync(file, `study_instance_uid,level,diagnosis\n${A},L4-L5,left\n`);
      expect(readSiteLabels(file)).toEqual([
        { line: 2, file, studyInstanceUid: A, level: 'L4-L5', diagnosis: 'left' },
      ]);
      expect(errorOf(() => readSiteLabels(path.join(dir, 'none.csv')))).toBe(
        `${path.join(dir, 'none.csv')}: no such file`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('findSiteStudies and matchSiteLabels', () => {
  let root: string;
  const dicom = (study: string, patient: string, sop: string) =>
    writePart10({
      SOPClassUID: MR_IMAGE_STORAGE,
      SOPInstanceUID: sop,
      StudyInstanceUID: study,
      SeriesInstanceUID: `${study}.9`,
      PatientID: patient,
      Modality: 'MR',
    });
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'site-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('names each sub-folder by the StudyInstanceUID of its first DICOM file, anywhere below it', () => {
    mkdirSync(path.join(root, 'b', 'series', 'deep'), { recursive: true });
    writeFileSync(path.join(root, 'b', 'a-readme.txt'), 'not DICOM');
    writeFileSync(path.join(root, 'b', 'series', 'deep', 'x.dcm'), dicom(B, 'PB', `${B}.1`));
    mkdirSync(path.join(root, 'a'));
    writeFileSync(path.join(root, 'a', 'IM0001'), dicom(A, 'PA', `${A}.1`));
    writeFileSync(path.join(root, 'not-a-study.txt'), 'ignored');
    expect(findSiteStudies(root)).toEqual([
      { dir: path.join(root, 'a'), studyInstanceUid: A, patientId: 'PA' },
      { dir: path.join(root, 'b'), studyInstanceUid: B, patientId: 'PB' },
    ]);
  });

  it('says what is wrong with the folder', () => {
    expect(errorOf(() => findSiteStudies(path.join(root, 'none')))).toBe(
      `${path.join(root, 'none')}: no such folder`,
    );
    expect(errorOf(() => findSiteStudies(root))).toBe(
      `${root}: empty folder: expected one sub-folder of DICOM files per study`,
    );
    writeFileSync(path.join(root, 'x.dcm'), dicom(A, 'PA', `${A}.1`));
    expect(errorOf(() => findSiteStudies(root))).toMatch(/no sub-folders: expected one sub-folder/);
    mkdirSync(path.join(root, 'empty'));
    expect(errorOf(() => findSiteStudies(root))).toBe(
      `${path.join(root, 'empty')}: no DICOM file in this study folder`,
    );
    writeFileSync(path.join(root, 'empty', 'y.dcm'), dicom(A, 'PA', `${A}.2`));
    mkdirSync(path.join(root, 'again'));
    writeFileSync(path.join(root, 'again', 'z.dcm'), dicom(A, 'PA', `${A}.3`));
    expect(errorOf(() => findSiteStudies(root))).toMatch(/holds study .* too: put each study in one folder/);
  });

  it('pairs labels with studies, naming the CSV line of a study missing from DIR', () => {
    const studies: SiteStudy[] = [
      { dir: '/s/a', studyInstanceUid: A, patientId: 'PA' },
      { dir: '/s/b', studyInstanceUid: B, patientId: null },
      { dir: '/s/c', studyInstanceUid: '1.2.3', patientId: null },
    ];
    const labels = parseSiteLabels(
      `study_instance_uid,level,diagnosis,patient_id\n${A},L5-S1,left,PA\n${B},L4-L5,bulge,\n${A},L4-L5,healthy,\n`,
      'l.csv',
    );
    const matched = matchSiteLabels(labels, studies);
    expect(matched.map((m) => [m.study.dir, m.labels.map((l) => l.level)])).toEqual([
      ['/s/a', ['L4-L5', 'L5-S1']],
      ['/s/b', ['L4-L5']],
    ]);
    expect(studiesWithoutLabels(labels, studies).map((s) => s.dir)).toEqual(['/s/c']);
    const missing = parseSiteLabels(
      `study_instance_uid,level,diagnosis\n${A},L5-S1,left\n1.2.9,L4-L5,left\n`,
      'l.csv',
    );
    expect(errorOf(() => matchSiteLabels(missing, studies))).toBe(
      'l.csv:3: study 1.2.9 is not in the studies folder',
    );
    const wrongPatient = parseSiteLabels(
      `study_instance_uid,level,diagnosis,patient_id\n${A},L5-S1,left,PX\n`,
      'l.csv',
    );
    expect(errorOf(() => matchSiteLabels(wrongPatient, studies))).toMatch(
      /^l\.csv:2: patient_id "PX" differs from PatientID "PA"/,
    );
  });
});
