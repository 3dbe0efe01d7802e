import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { applyMigrations, ensureDatabase, openDb, type PrismaClient } from '@lumbar/db';

/** The local Postgres of this machine and of CI (trust auth). */
export const PG_ADMIN_URL = process.env.LUMBAR_TEST_PG ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function dropDatabase(name: string): Promise<void> {
  const c = new Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

/** A fresh database per test file, migrated with prisma/migrations, dropped afterwards. */
export function useTestDatabase(opts: { migrate?: boolean } = {}) {
  const name = `lumbar_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = databaseUrl(name);
  const state: { url: string; name: string; db: PrismaClient } = { url, name, db: null! };
  beforeAll(async () => {
    await ensureDatabase(url);
    if (opts.migrate !== false) await applyMigrations(url);
    state.db = openDb(url, { poolSize: 4 });
  });
  afterAll(async () => {
    await state.db?.$disconnect();
    await dropDatabase(name);
  });
  return state;
}
