import { createHash } from 'node:crypto';

/**
 * A DICOM UID derived deterministically from its parts, under the 2.25 root (ISO/IEC 9834-8: a UUID
 * written as one decimal integer). The same parts always give the same UID, so re-running a job never
 * creates a second object in a PACS.
 */
export function deterministicUid(...parts: Array<string | number>): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes[6] = (bytes[6] & 0x0f) | 0x80; // UUID version 8 (custom), as RFC 9562 allows for name-based ids
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  return `2.25.${BigInt('0x' + bytes.toString('hex')).toString(10)}`;
}

/** Whether `v` is a UID as PS3.5 9.1 writes one: dot-separated digit runs, at most 64 characters. */
export function isUid(v: string): boolean {
  return v.length <= 64 && /^[0-9]+(\.[0-9]+)*$/.test(v);
}
