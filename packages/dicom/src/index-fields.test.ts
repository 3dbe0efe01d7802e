import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '@lumbar/core';
import { repoRoot, sharedPath } from '../../../test/helpers/shared';
import {
  indexFieldsOf,
  indexUids,
  leanIndexFields,
  needsFullRead,
  readIndexFields,
  type IndexFields,
} from './index-fields';
import { readPart10 } from './read';
import { listElements } from './structure';
import { writePart10, type Dataset } from './write';

/**
 * The receiver files each instance by readIndexFields: a lean walk that keeps a few values instead of a dcmjs
 * data set. Where dcmjs would store an instance it must store it with the same fields, and it must refuse
 * what dcmjs refuses, on every file we have: the real samples, the malformed corpus made from them and from
 * phantom instances (scripts/make-malformed-corpus.js), and the fuzz regression fixtures. Two departures,
 * each tested below and found by scripts/fuzz-dicom.js: it stores what dcmjs loses after a non-key attribute
 * with a wrong VR, and it refuses a UID that dcmjs would silently alter.
 */
type Outcome = { fields: IndexFields } | { refused: string };

const outcome = (read: () => IndexFields): Outcome => {
  try {
    return { fields: read() };
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return { refused: err.message };
  }
};
const dcmjsRead = (buf: Buffer): Outcome =>
  outcome(() => indexFieldsOf(readPart10(buf, 'f', { headerOnly: true })));

/** What the receiver does with an outcome: the instance's row fields, or a refusal (0xC000). */
const verdict = (o: Outcome) => {
  if ('refused' in o) return 'refused';
  try {
    indexUids(o.fields);
  } catch {
    return 'refused';
  }
  return o.fields;
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.dcm'))
    .sort()
    .map((f) => path.join(dir, f));
}

const SAMPLES = filesUnder(sharedPath('data', 'dicom-samples'));
const FUZZ = filesUnder(path.join(repoRoot, 'test', 'fixtures', 'fuzz'));

describe('readIndexFields: the receiver reads what dcmjs reads', () => {
  let corpusDir: string;
  let corpus: string[];
  beforeAll(() => {
    corpusDir = mkdtempSync(path.join(tmpdir(), 'index-fields-'));
    execFileSync(process.execPath, [
      path.join(repoRoot, 'scripts', 'make-malformed-corpus.js'),
      '--out',
      corpusDir,
      '--seed',
      'index-fields',
    ]);
    corpus = filesUnder(corpusDir);
  });
  afterAll(() => rmSync(corpusDir, { recursive: true, force: true }));

  it.each(SAMPLES.map((f) => [path.relative(sharedPath('data', 'dicom-samples'), f), f]))(
    'real sample %s: the same fields, read lean unless deflated or not ASCII',
    (_name, file) => {
      const buf = readFileSync(file);
      const full = dcmjsRead(buf);
      expect('fields' in full).toBe(true);
      expect(outcome(() => readIndexFields(buf, 'f'))).toEqual(full);
      if (!needsFullRead(buf)) expect(outcome(() => leanIndexFields(buf, 'f'))).toEqual(full);
    },
  );

  it('reads the same from the chunks an instance arrived in as from one buffer, copying only its start', () => {
    // chunks of 1 byte to 300 KB: the walk over the first 64 KiB, then more when it must (encapsulated Pixel
    // Data, an enhanced MR's functional groups), gives what the whole buffer gives, or the same refusal
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const cut = (buf: Buffer): Buffer[] => {
      const parts: Buffer[] = [];
      for (let at = 0; at < buf.length;) {
        const n = 1 + rand(rand(2) ? 300_000 : 200);
        parts.push(buf.subarray(at, at + n));
        at += n;
      }
      return parts;
    };
    const files = [...SAMPLES, ...corpus.filter((_, i) => i % 4 === 0), ...FUZZ];
    for (const file of files) {
      const buf = readFileSync(file);
      const parts = cut(buf);
      expect({ file, read: outcome(() => readIndexFields(parts, 'f')) }).toEqual({
        file,
        read: outcome(() => readIndexFields(buf, 'f')),
      });
    }
    expect(SAMPLES.some((f) => readFileSync(f).length > 4 * 64 * 1024)).toBe(true);
  });

  it('the malformed corpus and the fuzz fixtures: the same verdict, file by file, mostly without dcmjs', () => {
    const files = [...corpus, ...FUZZ];
    expect(corpus.length).toBeGreaterThanOrEqual(200);
    const differ: string[] = [];
    let lean = 0;
    let accepted = 0;
    for (const file of files) {
      const buf = readFileSync(file);
      const full = dcmjsRead(buf);
      const mine = outcome(() => readIndexFields(buf, 'f'));
      if (!needsFullRead(buf)) lean++;
      if (verdict(full) !== 'refused') accepted++;
      // Same row fields, or both refused (the reason may be worded differently: either is 0xC000)
      if (JSON.stringify(verdict(mine)) !== JSON.stringify(verdict(full))) differ.push(path.basename(file));
      // where both read the file, every field is the same, the Pixel Data verdict included
      else if ('fields' in mine && 'fields' in full) expect(mine).toEqual(full);
    }
    expect(differ).toEqual([]);
    expect(lean).toBeGreaterThan(files.length * 0.8);
    expect(accepted).toBeGreaterThan(0); // the corpus's well-formed controls
  });

  it('a real sample with its fields edited: every field, and its Pixel Data cut short is refused', () => {
    const file = SAMPLES.find((f) => f.endsWith(path.join('dcm_qa_ts', '1.dcm')))!;
    const ds = readPart10(readFileSync(file), 'f');
    const buf = writePart10({
      ...ds,
      PatientName: [{ Alphabetic: 'Doe^Jane', Ideographic: 'X' }],
      PatientID: '  P-1 ',
      AccessionNumber: 'A7',
      SeriesNumber: 7,
      SeriesDescription: 'T2 SAG\\second value',
    } as Dataset);
    expect(needsFullRead(buf)).toBe(false);
    const fields = readIndexFields(buf, 'p');
    expect({ fields }).toEqual(dcmjsRead(buf));
    expect(fields).toMatchObject({
      sopInstanceUid: ds.SOPInstanceUID,
      patientName: 'Doe^Jane',
      patientId: 'P-1',
      accessionNumber: 'A7',
      seriesNumber: '7',
      seriesDescription: 'T2 SAG',
      pixelDataProblem: null,
    });
    // Pixel Data (native, last element) loses its last 16 bytes and its length says so: the walk passes,
    // the size check does not
    const pd = listElements(buf).find((e) => e.tag === 0x7fe00010 && e.depth === 0)!;
    expect(pd.valueOffset + pd.length).toBe(buf.length);
    const short = Buffer.from(buf.subarray(0, buf.length - 16));
    short.writeUInt32LE(pd.length - 16, pd.lengthOffset);
    expect(readIndexFields(short, 'p').pixelDataProblem).toMatch(/^Pixel Data has \d+ bytes/);
    expect(dcmjsRead(short)).toEqual({ fields: readIndexFields(short, 'p') });
  });

  it('hands a non-ASCII name to dcmjs, which decodes it with the Specific Character Set', () => {
    const file = SAMPLES.find((f) => !needsFullRead(readFileSync(f)))!;
    const ds = readPart10(readFileSync(file), 'f');
    const buf = writePart10({
      ...ds,
      SpecificCharacterSet: 'ISO_IR 192',
      PatientName: [{ Alphabetic: 'Müller^Jörg' }],
    });
    expect(needsFullRead(buf)).toBe(true);
    expect(readIndexFields(buf, 'f').patientName).toBe('Müller^Jörg');
  });

  /** dcm_qa_ts/1.dcm with one top-level element's bytes changed by `edit` (explicit VR little endian). */
  const edited = (tag: number, edit: (buf: Buffer, e: { offset: number; valueOffset: number }) => void) => {
    const buf = Buffer.from(readFileSync(SAMPLES.find((f) => f.endsWith(path.join('dcm_qa_ts', '1.dcm')))!));
    const e = listElements(buf).find((x) => x.tag === tag && x.depth === 0)!;
    edit(buf, e);
    return buf;
  };

  it('stores what dcmjs loses after a non-key attribute with a wrong VR, as DCMTK and Orthanc do', () => {
    // Series Time (0008,0031) declared AT instead of TM: the walk reads through it (a short VR, its length
    // fits); dcmjs stops reading there and loses every later element, the Study Instance UID among them.
    const buf = edited(0x00080031, (b, e) => b.write('AT', e.offset + 4, 'latin1'));
    expect(verdict(dcmjsRead(buf))).toBe('refused');
    const fields = readIndexFields(buf, 'f');
    expect(fields.studyInstanceUid).toMatch(/^1\.3\.12\./);
    expect(verdict({ fields })).toEqual(fields);
  });

  it('refuses a UID with a character a UID cannot have, which dcmjs would drop and file under another UID', () => {
    const buf = edited(0x0020000d, (b, e) => b.write('>', e.valueOffset + 3, 'latin1'));
    const altered = dcmjsRead(buf) as { fields: IndexFields };
    expect(altered.fields.studyInstanceUid).not.toContain('>');
    expect(() => indexUids(readIndexFields(buf, 'f'))).toThrow(/StudyInstanceUID ".*>.*" is not a valid UID/);
  });
});
