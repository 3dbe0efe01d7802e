import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { LumbarError } from '@lumbar/core';

/** prisma/migrations at the root of the repository. */
export const MIGRATIONS_DIR = resolve(__dirname, '..', '..', '..', 'prisma', 'migrations');

// The table `prisma migrate deploy` keeps; the same shape, so either tool can take over from the other.
const HISTORY_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

/** The migrations in order: prisma/migrations/<timestamp>_<name>/migration.sql, sorted by folder name. */
export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/**
 * Applies the migrations not yet recorded in `_prisma_migrations`, each in its own transaction, under an
 * advisory lock (several services may start at once). Where Prisma's schema engine is installed,
 * `prisma migrate deploy` does the same with the same files and the same history table. A migration that
 * was applied and then edited is an error: migrations are append-only.
 */
export async function applyMigrations(
  databaseUrl: string,
  dir = MIGRATIONS_DIR,
): Promise<{ applied: string[]; already: string[] }> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(727274)');
    await client.query(HISTORY_TABLE);
    const done = new Map(
      (
        await client.query<{ migration_name: string; checksum: string }>(
          'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
        )
      ).rows.map((r) => [r.migration_name, r.checksum]),
    );
    const applied: string[] = [];
    const already: string[] = [];
    for (const m of listMigrations(dir)) {
      const seen = done.get(m.name);
      if (seen !== undefined) {
        if (seen !== m.checksum) {
          throw new LumbarError(
            'MIGRATION_CHANGED',
            `migration ${m.name} was applied and has since been edited: add a new migration instead`,
          );
        }
        already.push(m.name);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), 1)`,
          [randomUUID(), m.checksum, m.name],
        );
        await client.query('COMMIT');
        applied.push(m.name);
      } catch (err) {
        await client.query('ROLLBACK');
        throw new LumbarError(
          'MIGRATION_FAILED',
          `migration ${m.name} failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    return { applied, already };
  } finally {
    await client.query('SELECT pg_advisory_unlock(727274)').catch(() => undefined);
    await client.end();
  }
}

/** Errors of a server that is not (yet) there or still starting: worth another try at start-up. */
const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', '57P03']);

/**
 * Start-up check: connects to the database and runs `SELECT 1`, trying again for up to `timeoutMs` while the
 * server refuses or is starting; rejects with the last error after that (at once for others: a wrong
 * password). With `missingDatabaseOk`, a database that does not exist yet (3D000) passes: ensureDatabase
 * creates it. Leaves no connection open either way.
 */
export async function waitForPostgres(
  databaseUrl: string,
  opts: { timeoutMs?: number; missingDatabaseOk?: boolean } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  for (;;) {
    const left = Math.max(deadline - Date.now(), 1);
    const client = new Client({
      connectionString: databaseUrl,
      connectionTimeoutMillis: Math.min(left, 2000),
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (opts.missingDatabaseOk && code === '3D000') return;
      const transient = TRANSIENT.has(code) || /timeout/i.test((err as Error).message);
      if (!transient || Date.now() + 250 >= deadline) throw err;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Creates the database named in the URL if it does not exist (connecting to `postgres` to do so). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) {
    throw new LumbarError('CONFIG', `database name "${name}" must be letters, digits and _`);
  }
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}
