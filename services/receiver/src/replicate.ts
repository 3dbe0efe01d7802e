import { instanceKey, type ObjectStore } from '@lumbar/storage';

/** Where a stored instance is for everybody: the path its row records, or why it could not be put there. */
export type Replica = { path: string } | { error: string };

/**
 * LUMBAR_STORAGE=s3: puts an instance, already durable in the receiver's own data folder, into the bucket
 * under `instances/<study>/<series>/<sop>.dcm`, where the workers on other machines read it. Resolves once the
 * PUT answered 200 (the object is durable in the store) with the object's location (`s3://bucket/key`) for
 * its row; or with the sentence of the failure (unreachable, refused, timed out), on which the C-STORE is
 * answered 0xA700 and nothing is recorded. A copy already in the bucket (stored by another receiver, or left
 * by an attempt whose row failed) is kept, never replaced (If-None-Match: *): the first copy wins, as on disk.
 */
export async function replicateInstance(
  objects: ObjectStore,
  file: string,
  uids: { study: string; series: string; sop: string },
): Promise<Replica> {
  const key = instanceKey(uids.study, uids.series, uids.sop);
  try {
    await objects.putFile(key, file, { ifAbsent: true });
    return { path: objects.location(key) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
