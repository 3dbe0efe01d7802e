import type { PrismaClient } from '../generated/client';

/** One trivial statement (`SELECT 1`): rejects when Postgres does not answer. */
export async function pingDatabase(db: PrismaClient): Promise<unknown> {
  return db.$queryRaw`SELECT 1`;
}
