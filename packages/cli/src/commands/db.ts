import { Command } from 'commander';
import { API_SCOPES, applyMigrations, createApiKey, ensureDatabase, openDb, type ApiScope } from '@lumbar/db';
import { InputError, loadConfig } from '@lumbar/core';

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

/** `lumbar apikey create --scope read|admin`: prints a new API key (shown once, stored hashed). */
export function apikeyCommand(): Command {
  const cmd = new Command('apikey').description('API keys for the REST API');
  cmd
    .command('create')
    .description('create an API key and print it (only its hash is stored)')
    .option('--scope <scope...>', `scopes: ${API_SCOPES.join(', ')}`, ['read'])
    .option('--name <name>', 'who or what uses the key')
    .action(async (o: { scope: string[]; name?: string }) => {
      const bad = o.scope.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
      if (bad.length)
        throw new InputError(`unknown scope ${bad.join(', ')}: choose from ${API_SCOPES.join(', ')}`);
      const scopes = [...new Set(o.scope.includes('admin') ? [...o.scope, 'read'] : o.scope)] as ApiScope[];
      const { databaseUrl } = loadConfig();
      await ensureDatabase(databaseUrl);
      await applyMigrations(databaseUrl);
      const client = openDb(databaseUrl);
      try {
        const { key } = await createApiKey(client, scopes, o.name);
        process.stdout.write(`${key}\n`);
      } finally {
        await client.$disconnect();
      }
    });
  return cmd;
}
