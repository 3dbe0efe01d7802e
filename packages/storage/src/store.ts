/**
 * Where received instances and analysis outputs live, by key (`instances/<study>/<series>/<sop>.dcm`,
 * `outputs/<studyId>/<analysisId>/<file>`): a folder (FsObjectStore) or a bucket of an S3-compatible object
 * store (S3ObjectStore). A missing key is a NotFoundError; a store that cannot be reached, or refuses us, is an
 * UnavailableError (the receiver answers 0xA700, a job is tried again).
 */
export interface ObjectStore {
  /** `fs` or `s3`. */
  readonly kind: 'fs' | 's3';
  /** Where a key lives, for a database row or a log line: `s3://<bucket>/<prefix><key>`, or the file's path. */
  location(key: string): string;
  /** The key of a location(): null when the location is not one of this store's. */
  keyOf(location: string): string | null;
  /**
   * Stores a local file under `key`; resolves only once the store holds it durably (fs: written, fsynced and
   * renamed into place, its folder fsynced; s3: the PUT answered 200). With `ifAbsent`, an object already
   * there is kept, not replaced, and `created` is false.
   */
  putFile(key: string, file: string, opts?: { ifAbsent?: boolean }): Promise<{ created: boolean }>;
  /** Stores bytes under `key`, durably as putFile. */
  put(key: string, body: Buffer): Promise<void>;
  /** The bytes of `key`; a NotFoundError when there is no such object. */
  get(key: string): Promise<Buffer>;
  /** Copies `key` to a local file (its folder made), streaming; a NotFoundError when there is no such object. */
  getToFile(key: string, file: string): Promise<void>;
  /** Every key that starts with `prefix` (pass one ending in `/` for a folder), sorted. */
  list(prefix: string): Promise<string[]>;
  /** Resolves when the store can be reached and the bucket (or folder) exists; an UnavailableError otherwise. */
  check(): Promise<void>;
  /** Lets the connections go. */
  close(): void;
}

/**
 * A key as the stores take it: relative, `/`-separated segments of letters, digits, `.`, `_` and `-` (UIDs,
 * ids, output file names), none of them `.` or `..`: a key never leads out of its folder or prefix.
 */
const SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;
export function isSafeKey(key: string): boolean {
  const segments = key.split('/');
  return segments.length <= 16 && segments.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..');
}

/** A prefix for list(): a safe key, or one followed by `/`, or `` (everything). */
export function isSafePrefix(prefix: string): boolean {
  if (prefix === '') return true;
  return isSafeKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/** The key of a received instance, in both stores (the receiver's data folder has the same layout). */
export const instanceKey = (study: string, series: string, sop: string): string =>
  `instances/${study}/${series}/${sop}.dcm`;

/** The prefix of a study's instances. */
export const studyInstancesPrefix = (study: string): string => `instances/${study}/`;

/** The prefix (folder) of one analysis' outputs, without the trailing `/`. */
export const outputsKey = (studyId: number, analysisId: number): string => `outputs/${studyId}/${analysisId}`;
