import { InputError } from '@lumbar/core';
import { readFileSync } from 'node:fs';
import { SeriesRules, seriesRules } from './series-rules';

/**
 * The series rules: the shipped defaults, merged with the JSON override file at `overridePath` when given.
 * A missing file, bad JSON or a bad value is an InputError naming the file (read once, at start-up).
 */
export function readSeriesRules(overridePath?: string): SeriesRules {
  if (!overridePath) return seriesRules();
  let text: string;
  try {
    text = readFileSync(overridePath, 'utf8');
  } catch (err) {
    throw new InputError(`series rules ${overridePath}: cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`series rules ${overridePath}: not valid JSON: ${(err as Error).message}`);
  }
  return seriesRules(json, overridePath);
}
