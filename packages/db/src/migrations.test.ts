import { readFileSync } from 'node:fs';
import { mkdtempSync, mkdirSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { applyMigrations, listMigrations, MIGRATIONS_DIR } from './migrate';
import { useTestDatabase } from '../../../test/helpers/db';

// The schema as Prisma reads it (its own parser, compiled to WebAssembly: no engine binary needed).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const wasm = require('@prisma/prisma-schema-wasm') as { get_dmmf(params: string): string };

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: string;
  type: string;
  isList: boolean;
  isRequired: boolean;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
}
interface Dmmf {
  datamodel: {
    models: { name: string; dbName: string | null; fields: DmmfField[] }[];
    enums: { name: string; values: { name: string }[] }[];
    indexes: { model: string; type: string; fields: { name: string }[] }[];
  };
}

const SCALAR_SQL: Record<string, string> = {
  Int: 'int4',
  String: 'text',
  DateTime: 'timestamp',
  Json: 'jsonb',
  Boolean: 'bool',
  BigInt: 'int8',
  Float: 'float8',
};

/** What the schema says the database must hold, as sorted lines. */
function expectedFromSchema(): string[] {
  const schema = readFileSync(resolve(MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8');
  const dmmf = JSON.parse(
    wasm.get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schema]] })),
  ) as Dmmf;
  const lines: string[] = [];
  const table = new Map(dmmf.datamodel.models.map((m) => [m.name, m.dbName ?? m.name]));
  for (const m of dmmf.datamodel.models) {
    const col = new Map(m.fields.map((f) => [f.name, f.dbName ?? f.name]));
    for (const f of m.fields.filter((x) => x.kind !== 'object')) {
      const base = f.kind === 'enum' ? f.type : SCALAR_SQL[f.type];
      const type = f.isList ? `_${base}` : base;
      // Prisma lists are nullable columns in Postgres (scalar lists have no NOT NULL).
      const nullable = f.isList || !f.isRequired;
      lines.push(`column ${table.get(m.name)}.${col.get(f.name)} ${type} ${nullable ? 'null' : 'not null'}`);
    }
    for (const f of m.fields.filter((x) => x.kind === 'object' && x.relationFromFields?.length)) {
      const target = dmmf.datamodel.models.find((x) => x.name === f.type)!;
      const targetCol = new Map(target.fields.map((x) => [x.name, x.dbName ?? x.name]));
      const from = f.relationFromFields!.map((x) => col.get(x)).join(',');
      const to = f.relationToFields!.map((x) => targetCol.get(x)).join(',');
      // Prisma's default for a required relation is Restrict; the schema names Cascade where it wants it.
      const onDelete = (f.relationOnDelete ?? 'Restrict').toLowerCase();
      lines.push(
        `foreign ${table.get(m.name)}(${from}) -> ${table.get(f.type)}(${to}) on delete ${onDelete}`,
      );
    }
    for (const ix of dmmf.datamodel.indexes.filter((i) => i.model === m.name)) {
      const kind = ix.type === 'id' ? 'primary' : ix.type === 'unique' ? 'unique' : 'index';
      lines.push(`${kind} ${table.get(m.name)}(${ix.fields.map((x) => col.get(x.name)).join(',')})`);
    }
  }
  for (const e of dmmf.datamodel.enums) lines.push(`enum ${e.name} ${e.values.map((v) => v.name).join(',')}`);
  return lines.sort();
}

/** What the migrated database holds, in the same lines. */
async function actualFromDatabase(url: string): Promise<string[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const lines: string[] = [];
    const cols = await c.query(
      `SELECT table_name, column_name, udt_name, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
    );
    for (const r of cols.rows) {
      lines.push(
        `column ${r.table_name}.${r.column_name} ${r.udt_name} ${r.is_nullable === 'YES' ? 'null' : 'not null'}`,
      );
    }
    const idx = await c.query(
      `SELECT t.relname AS tbl, ix.indisprimary AS pk, ix.indisunique AS uq,
              array_agg(a.attname::text ORDER BY k.ord) AS cols
       FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
       WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'
       GROUP BY t.relname, ix.indexrelid, ix.indisprimary, ix.indisunique`,
    );
    for (const r of idx.rows) {
      lines.push(
        `${r.pk ? 'primary' : r.uq ? 'unique' : 'index'} ${r.tbl}(${(r.cols as string[]).join(',')})`,
      );
    }
    const fks = await c.query(
      `SELECT t.relname AS tbl, r.relname AS ref, con.confdeltype AS del,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(n, ord)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n) AS cols,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY k(n, ord)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n) AS refcols
       FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid JOIN pg_class r ON r.oid = con.confrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE con.contype = 'f' AND n.nspname = 'public'`,
    );
    const onDelete: Record<string, string> = {
      c: 'cascade',
      r: 'restrict',
      a: 'noaction',
      n: 'setnull',
      d: 'setdefault',
    };
    for (const r of fks.rows) {
      lines.push(
        `foreign ${r.tbl}(${(r.cols as string[]).join(',')}) -> ${r.ref}(${(r.refcols as string[]).join(',')}) on delete ${onDelete[r.del as string]}`,
      );
    }
    const enums = await c.query(
      `SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS vals
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`,
    );
    for (const r of enums.rows) lines.push(`enum ${r.typname} ${(r.vals as string[]).join(',')}`);
    return lines.sort();
  } finally {
    await c.end();
  }
}

describe('migrations', () => {
  const t = useTestDatabase();

  it('build exactly the database that prisma/schema.prisma describes (no drift)', async () => {
    const expected = expectedFromSchema();
    const actual = await actualFromDatabase(t.url);
    expect(expected.length).toBeGreaterThan(40);
    expect(actual).toEqual(expected);
  });

  it('are recorded in _prisma_migrations with their checksums and are not applied twice', async () => {
    const again = await applyMigrations(t.url);
    expect(again.applied).toEqual([]);
    expect(again.already).toEqual(listMigrations().map((m) => m.name));
    const c = new Client({ connectionString: t.url });
    await c.connect();
    const rows = (
      await c.query('SELECT migration_name, checksum FROM "_prisma_migrations" ORDER BY migration_name')
    ).rows;
    await c.end();
    expect(rows).toEqual(listMigrations().map((m) => ({ migration_name: m.name, checksum: m.checksum })));
  });

  it('refuse a migration that was edited after it was applied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lumbar-mig-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const first = listMigrations(dir)[0].name;
    writeFileSync(
      join(dir, first, 'migration.sql'),
      readFileSync(join(dir, first, 'migration.sql'), 'utf8') + '\n-- edited\n',
    );
    await expect(applyMigrations(t.url, dir)).rejects.toThrow(/has since been edited/);
  });

  it('catch drift: a schema change without a migration shows up as a difference', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lumbar-mig-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    mkdirSync(join(dir, '29990101000000_extra'));
    writeFileSync(
      join(dir, '29990101000000_extra', 'migration.sql'),
      'ALTER TABLE "studies" ADD COLUMN "extra" TEXT; ALTER TABLE "outputs" DROP CONSTRAINT "outputs_analysis_id_fkey";',
    );
    await applyMigrations(t.url, dir);
    const actual = await actualFromDatabase(t.url);
    expect(actual).toContain('column studies.extra text null');
    expect(actual).toContain('foreign series(study_id) -> studies(id) on delete cascade');
    const lostForeignKey = 'foreign outputs(analysis_id) -> analyses(id) on delete cascade';
    expect(expectedFromSchema()).toContain(lostForeignKey);
    expect(actual).not.toContain(lostForeignKey);
    expect(actual).not.toEqual(expectedFromSchema());
  });
});
