import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '@lumbar/core';
import { decodeFrames } from './decode';
import { pixelDataProblem, readPart10 } from './read';

/**
 * Regression inputs of the malformed-input work (issue 17): test/fixtures/fuzz/ holds the inputs that once
 * crashed, hung, were parsed wrongly or accepted by the receiver, and any that scripts/fuzz-dicom.js saves.
 * Each must now be refused with a typed InputError, quickly, by the full read and decode, and by the
 * receiver's check (header-only read, then pixelDataProblem) unless its structure is whole.
 */
const dir = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'fuzz');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.dcm'))
  .sort();

/** Fixtures whose structure is whole: only decoding can tell they are wrong. */
const DECODE_ONLY = new Set(['rle-frame-claims-16384x16384.dcm']);

async function rejection(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  return null;
}

describe('fuzz and malformed-input regression fixtures', () => {
  it('there are fixtures', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  it.each(fixtures)('%s: read and decode give an InputError within 5 s', async (file) => {
    const buf = readFileSync(path.join(dir, file));
    const t0 = Date.now();
    const err = await rejection(async () => decodeFrames(readPart10(buf, file), file));
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(new RegExp(`^${file.replace(/\./g, '\\.')}: `));
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it.each(fixtures.filter((f) => !DECODE_ONLY.has(f)))('%s: the receiver would refuse it', async (file) => {
    const buf = readFileSync(path.join(dir, file));
    const err = await rejection(async () => {
      const problem = pixelDataProblem(readPart10(buf, file, { headerOnly: true }));
      if (problem) throw new InputError(problem);
    });
    expect(err).toBeInstanceOf(InputError);
  });
});
