import { userInfo } from 'node:os';
import { Command } from 'commander';
import {
  API_KEY_PREFIX_PATTERN,
  API_SCOPES,
  apiKeyState,
  applyMigrations,
  createApiKey,
  ensureDatabase,
  listApiKeys,
  openDb,
  revokeApiKey,
  type ApiScope,
  type PrismaClient,
} from '@lumbar/db';
import { InputError, loadConfig, NotFoundError } from '@lumbar/core';

/** `lumbar db migrate`: creates the database if needed and applies prisma/migrations in order. */
export function dbCommand(): Command {
  const db = new Command('db').description('database administration');
  db.command('migrate')
    .description(
      'create the database if missing and apply pending migrations (recorded in _prisma_migrations)',
    )
    .action(async () => {
      const { databaseUrl } = loadConfig();
      await ensureDatabase(databaseUrl);
      const { applied, already } = await applyMigrations(databaseUrl);
      process.stdout.write(
        `applied ${applied.length} migration(s)${applied.length ? `: ${applied.join(', ')}` : ''}; ${already.length} already applied\n`,
      );
    });
  return db;
}

/** Who runs the command, for the audit trail: `cli:<login name>`. */
function cliActor(): string {
  let user = '';
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? '';
  }
  return `cli:${user || 'unknown'}`;
}

/** The database, created and migrated if needed, for the time of `work`. */
async function withDb<T>(work: (db: PrismaClient) => Promise<T>): Promise<T> {
  const { databaseUrl } = loadConfig();
  await ensureDatabase(databaseUrl);
  await applyMigrations(databaseUrl);
  const client = openDb(databaseUrl);
  try {
    return await work(client);
  } finally {
    await client.$disconnect();
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The expiry that --expires-in <days> or --expires-at <ISO date> asks for; null when neither is given. */
export function parseExpiry(o: { expiresIn?: string; expiresAt?: string }, now = new Date()): Date | null {
  if (o.expiresIn !== undefined && o.expiresAt !== undefined)
    throw new InputError('give --expires-in or --expires-at, not both');
  if (o.expiresIn !== undefined) {
    const days = Number(o.expiresIn);
    if (!/^\d+(\.\d+)?$/.test(o.expiresIn.trim()) || !(days > 0) || days > 36500)
      throw new InputError(`--expires-in: "${o.expiresIn}" is not a number of days above 0 (at most 36500)`);
    return new Date(now.getTime() + days * DAY_MS);
  }
  if (o.expiresAt !== undefined) {
    const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;
    const at = new Date(o.expiresAt);
    if (!iso.test(o.expiresAt) || Number.isNaN(at.getTime()))
      throw new InputError(
        `--expires-at: "${o.expiresAt}" is not an ISO 8601 date or date-time (e.g. 2027-01-31 or 2027-01-31T18:00:00Z)`,
      );
    if (at.getTime() <= now.getTime())
      throw new InputError(`--expires-at: ${at.toISOString()} is in the past`);
    return at;
  }
  return null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : '-');

/** The keys as an aligned text table (never the hash: it is not even read). */
function keyTable(keys: Awaited<ReturnType<typeof listApiKeys>>, now: Date): string {
  const head = ['PREFIX', 'NAME', 'SCOPES', 'STATE', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED'];
  const rows = keys.map((k) => [
    k.prefix,
    k.name ?? '-',
    k.scopes.join(',') || '-',
    apiKeyState(k, now),
    iso(k.createdAt),
    iso(k.lastUsedAt),
    iso(k.expiresAt),
    iso(k.revokedAt),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * `lumbar apikey create|list|revoke`: API keys for the REST API. A key is printed once at creation; only
 * its SHA-256 is stored. Creation and revocation are written to the audit trail (actor `cli:<user>`).
 */
export function apikeyCommand(): Command {
  const cmd = new Command('apikey').description('API keys for the REST API');
  cmd
    .command('create')
    .description('create an API key and print it (only its hash is stored)')
    .option('--scope <scope...>', `scopes: ${API_SCOPES.join(', ')}`, ['read'])
    .option('--name <name>', 'who or what uses the key')
    .option('--expires-in <days>', 'the key stops working after this many days')
    .option(
      '--expires-at <date>',
      'the key stops working at this ISO 8601 date or date-time (UTC unless it says)',
    )
    .action(async (o: { scope: string[]; name?: string; expiresIn?: string; expiresAt?: string }) => {
      const bad = o.scope.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
      if (bad.length)
        throw new InputError(`unknown scope ${bad.join(', ')}: choose from ${API_SCOPES.join(', ')}`);
      const scopes = [...new Set(o.scope.includes('admin') ? [...o.scope, 'read'] : o.scope)] as ApiScope[];
      const expiresAt = parseExpiry(o);
      await withDb(async (client) => {
        const { key } = await createApiKey(client, scopes, o.name, undefined, {
          expiresAt,
          actor: cliActor(),
        });
        process.stdout.write(`${key}\n`);
        if (expiresAt) process.stderr.write(`lumbar: the key expires at ${expiresAt.toISOString()}\n`);
      });
    });
  cmd
    .command('list')
    .description('list the API keys: prefix, name, scopes, state and dates (never the key nor its hash)')
    .option('--json', 'one JSON array instead of a table')
    .action(async (o: { json?: boolean }) => {
      await withDb(async (client) => {
        const keys = await listApiKeys(client);
        const now = new Date();
        if (o.json) {
          const out = keys.map((k) => ({
            prefix: k.prefix,
            name: k.name,
            scopes: k.scopes,
            state: apiKeyState(k, now),
            createdAt: k.createdAt.toISOString(),
            lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
            expiresAt: k.expiresAt?.toISOString() ?? null,
            revokedAt: k.revokedAt?.toISOString() ?? null,
          }));
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        } else if (keys.length === 0) {
          process.stdout.write('no API keys (create one with: lumbar apikey create --scope read)\n');
        } else {
          process.stdout.write(`${keyTable(keys, now)}\n`);
        }
      });
    });
  cmd
    .command('revoke')
    .description('revoke the API key with this prefix (the 8 characters after lk_): it stops working at once')
    .argument('<prefix>', 'the key prefix, as `lumbar apikey list` shows it')
    .action(async (prefix: string) => {
      if (!API_KEY_PREFIX_PATTERN.test(prefix))
        throw new InputError(
          `"${prefix.length > 12 ? `${prefix.slice(0, 3)}...` : prefix}" is not a key prefix: give the 8 lowercase letters or digits after lk_ (see lumbar apikey list)`,
        );
      await withDb(async (client) => {
        const r = await revokeApiKey(client, prefix, cliActor());
        if (!r) throw new NotFoundError(`no API key has the prefix ${prefix} (see lumbar apikey list)`);
        process.stdout.write(
          r.changed
            ? `revoked API key ${prefix}${r.key.name ? ` (${r.key.name})` : ''}\n`
            : `API key ${prefix} was already revoked at ${r.key.revokedAt!.toISOString()}\n`,
        );
      });
    });
  return cmd;
}
