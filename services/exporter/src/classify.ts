import type { SendResult } from './scu';

const hex = (s: number | null) =>
  s === null ? 'none' : `0x${s.toString(16).padStart(4, '0').toUpperCase()}`;

/** Success and warnings (0x0000, 0xB000-0xBFFF and 0x0001/0x0107/0x0116) count as stored. */
export const isStored = (s: number | null) =>
  s !== null && (s === 0 || (s >= 0xb000 && s <= 0xbfff) || s === 0x0001 || s === 0x0107 || s === 0x0116);

/** What one send attempt means for the export. */
export type SendVerdict =
  | { ok: true }
  | {
      ok: false;
      /** Worth another attempt: A7xx (out of resources), or the association refused, dropped or timed out. */
      retryable: boolean;
      /** No attempt follows: not retryable, or this was the last attempt. */
      final: boolean;
      /** The status to record: the refusing one, else the first failure status; null when none came. */
      status: number | null;
      why: string;
    };

/**
 * Classifies one C-STORE attempt of an export's files. A7xx (out of resources), refused or dropped
 * connections are retried; A9xx/Cxxx answers and a permanent association rejection are not; every failure
 * is final on the last attempt. Pure: unit-tested in classify.test.ts.
 */
export function classifySend(
  r: SendResult,
  files: readonly string[],
  attempt: { made: number; allowed: number },
): SendVerdict {
  const failed = r.statuses.map((s, i) => ({ s, file: files[i] })).filter((x) => !isStored(x.s));
  if (!r.associationError && failed.length === 0) return { ok: true };
  // A7xx: the peer is out of resources now; any other failure status (A9xx, Cxxx, ...) will not change.
  const refused = failed.find((x) => x.s !== null && (x.s & 0xff00) !== 0xa700);
  const status = refused?.s ?? failed.find((x) => x.s !== null)?.s ?? null;
  const why = r.associationError ?? failed.map((x) => `${x.file}: ${hex(x.s)}`).join(', ');
  const retryable = !r.permanent && !refused;
  const final = !retryable || attempt.made + 1 >= attempt.allowed;
  return { ok: false, retryable, final, status, why };
}
