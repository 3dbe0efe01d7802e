import type { StorageConfig } from '@lumbar/core';
import { S3ObjectStore } from './s3-store';
import type { ObjectStore } from './store';

export * from './store';
export { FsObjectStore } from './fs-store';
export { S3ObjectStore } from './s3-store';
export { downloadPrefix, filesUnder, uploadDir } from './transfer';

/**
 * The object store that LUMBAR_STORAGE selects for instances and outputs shared between machines: a bucket for
 * `s3`; null for `fs`, where every service keeps using the data folder exactly as before (LUMBAR_DATA_DIR).
 */
export function openObjectStore(storage: StorageConfig): ObjectStore | null {
  return storage.kind === 's3' ? new S3ObjectStore(storage.s3) : null;
}

/** Whether an analysis' outputDir names a place in an object store (`s3://...`) rather than a local folder. */
export const isObjectLocation = (outputDir: string): boolean => /^s3:\/\//.test(outputDir);

/**
 * At start (`lumbar serve`): with LUMBAR_STORAGE=s3, resolves once the bucket answers (HeadBucket), else
 * rejects with the reason (unreachable, no such bucket, access denied); with fs, at once.
 */
export async function checkObjectStore(storage: StorageConfig): Promise<void> {
  const store = openObjectStore(storage);
  if (!store) return;
  try {
    await store.check();
  } finally {
    store.close();
  }
}
