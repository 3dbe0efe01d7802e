import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { sharedPath } from '../../../test/helpers/shared';
import { pixelDataProblem, readPart10 } from './read';
import { checkPart10Structure } from './structure';

const SAMPLES = sharedPath('data', 'dicom-samples');
const files = readdirSync(SAMPLES, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.dcm'))
  .sort();

/** Binary values as hex (dcmjs' ArrayBuffers come from another realm than Jest's, which toEqual rejects). */
const plain = (v: unknown): unknown => {
  if (Object.prototype.toString.call(v) === '[object ArrayBuffer]')
    return Buffer.from(v as ArrayBuffer).toString('hex');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
};

/** The naturalized data set without what only one kind of read has. */
const comparable = (ds: Record<string, unknown>) => {
  const { PixelData: _pd, _hasPixelData: _h, _pixelData: _p, ...rest } = ds;
  const { PixelData: _vr, ...vrMap } = (ds._vrMap ?? {}) as Record<string, unknown>;
  return plain({ ...rest, _vrMap: vrMap });
};

describe('readPart10 headerOnly (the receiver and the indexer read only the bytes before Pixel Data)', () => {
  it('finds the real samples', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  it.each(files)('%s: the same header as a full read, and the same Pixel Data verdict', (file) => {
    const buf = readFileSync(path.join(SAMPLES, file));
    const full = readPart10(buf, file);
    const head = readPart10(buf, file, { headerOnly: true });
    expect(head.PixelData).toBeUndefined();
    expect(comparable(head)).toEqual(comparable(full));
    expect(head._hasPixelData).toBe(full.PixelData !== undefined);
    expect(pixelDataProblem(head)).toBe(pixelDataProblem(full));
  });

  it('records where the top-level Pixel Data value starts (its header ends)', () => {
    const file = files.find((f) => f.includes('dcm_qa_ts'))!;
    const buf = readFileSync(path.join(SAMPLES, file));
    const s = checkPart10Structure(buf);
    expect(s.pixelDataValueOffset).not.toBeNull();
    const at = s.pixelDataValueOffset!;
    // the tag (7FE0,0010) little endian sits 8 (short header) or 12 (OB/OW explicit) bytes before the value
    const tagAt = [8, 12].map((n) => at - n).find((o) => buf.readUInt32LE(o) === 0x00107fe0);
    expect(tagAt).toBeDefined();
  });
});
