import { countExportsByStatus, countStudiesByStatus, type PrismaClient } from '@lumbar/db';
import type { Queue, Queues } from '@lumbar/jobs';
import { EXPORT_STATUSES, STUDY_STATUSES } from './schemas';

type JobState = Parameters<Queue['getJobCounts']>[number];

type StatusRows = { status: string; _count: { _all: number } }[];

/** Prisma `groupBy status` rows -> a count for every key, 0 where no row has it. */
export function countByStatus<T extends readonly string[]>(
  keys: T,
  rows: StatusRows,
): Record<T[number], number> {
  return Object.fromEntries(
    keys.map((k) => [k, rows.find((r) => r.status === k)?._count._all ?? 0]),
  ) as Record<T[number], number>;
}

/** Studies by status, every status present (the /metrics gauge and the dashboard). */
export async function studyCounts(db: PrismaClient) {
  const rows = await countStudiesByStatus(db);
  return countByStatus(STUDY_STATUSES, rows);
}

/** DICOM exports by status, every status present (the /metrics gauge and the dashboard). */
export async function exportCounts(db: PrismaClient) {
  const rows = await countExportsByStatus(db);
  return countByStatus(EXPORT_STATUSES, rows);
}

/** Jobs per queue (by its name) in each of `states`, 0 where BullMQ has none. */
export async function queueCounts<S extends JobState>(
  queues: Queues,
  states: readonly S[],
): Promise<Record<string, Record<S, number>>> {
  const out: Record<string, Record<S, number>> = {};
  for (const q of [queues.studies, queues.exports]) {
    const c = await q.getJobCounts(...states);
    out[q.name] = Object.fromEntries(states.map((s) => [s, c[s] ?? 0])) as Record<S, number>;
  }
  return out;
}
