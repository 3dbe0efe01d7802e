#!/usr/bin/env node
// The receiver's row statement (RECORD_SQL, packages/db/src/repos/instances.ts) on its own: one new instance of
// an existing series per call, one call at a time, through the receiver's pool (openSqlRunner: its generic plan)
// and, for comparison, with Postgres's default plan choice (plan_cache_mode=auto), and a one-row INSERT with its
// commit (the floor of any durable row). Needs Postgres on loopback (a database lumbar_bench_statement is created
// and dropped). Prints the mean ms per call of each, in alternating rounds.
// Usage: node bench/record-statement.js [CALLS=400] [ROUNDS=2] [ROWS=3000 rows already in the tables]
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const lib = require('./lib');

const { applyMigrations, openSqlRunner, RECORD_SQL } = require(path.join(lib.root, 'packages/db/dist'));
const calls = Number(process.argv[2] ?? 400);
const rounds = Number(process.argv[3] ?? 2);
const rows = Number(process.argv[4] ?? 3000);
const DB = 'lumbar_bench_statement';

const params = (study, series, sop) => [
  [study],
  ['PID'],
  ['NAME'],
  ['ACC'],
  ['20260101'],
  ['desc'],
  [series],
  ['MR'],
  [1],
  ['series'],
  [sop],
  ['1.2.840.10008.5.1.4.1.1.4'],
  ['1.2.840.10008.1.2.1'],
  [`/data/${sop}.dcm`],
  [1000],
  ['ab'.repeat(32)],
  ['BENCH'],
];

async function time(runner, text, args) {
  for (let i = 0; i < 20; i++) await runner.query(text, args(`w${i}`)); // prepared, plan chosen
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await runner.query(text, args(String(i)));
  return (performance.now() - t0) / calls;
}

(async () => {
  const url = lib.dropDatabase(DB);
  execFileSync('psql', ['-q', '-h', '127.0.0.1', '-U', 'postgres', '-c', `CREATE DATABASE ${DB}`]);
  try {
    await applyMigrations(url);
    const seed = openSqlRunner(url, 1);
    // tables of some size, as an archive has (sequential scans would show)
    await seed.query(
      `INSERT INTO studies (study_instance_uid, instance_count, updated_at)
         SELECT '1.7.' || g, 1, now() FROM generate_series(1, $1::int) g`,
      [rows],
    );
    await seed.query(
      `INSERT INTO series (study_id, series_instance_uid) SELECT id, study_instance_uid || '.1' FROM studies`,
      [],
    );
    await seed.query(
      `INSERT INTO instances (series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, path, size_bytes,
                              sha256, calling_ae_title)
         SELECT id, series_instance_uid || '.1', '1.2', '1.2', '/x', 1, 'x', 'X' FROM series`,
      [],
    );
    await seed.query('ANALYZE', []);
    await seed.end();
    const generic = openSqlRunner(url, 1);
    const auto = openSqlRunner(url.replace(DB, `${DB}?options=-c%20plan_cache_mode%3Dauto`), 1);
    const insert = `INSERT INTO audit_events (at, actor, action, subject_type, subject_id)
                    VALUES (now(), 'bench', 'bench', 'instance', $1)`;
    const runs = { generic: [], auto: [], insert: [] };
    for (let r = 0; r < rounds; r++) {
      const tag = `${Date.now()}.${r}`;
      const args = (name) => (i) => params(`1.7.${r + 1}`, `1.7.${r + 1}.1`, `1.8.${tag}.${name}.${i}`);
      runs.generic.push(await time(generic, RECORD_SQL, args(1)));
      runs.auto.push(await time(auto, RECORD_SQL, args(2)));
      runs.insert.push(await time(generic, insert, (i) => [i]));
    }
    const f = (xs) => xs.map((x) => x.toFixed(3)).join(' / ');
    console.log(`RECORD_SQL, the receiver's pool (generic plan): ${f(runs.generic)} ms per call`);
    console.log(`RECORD_SQL, plan_cache_mode=auto:               ${f(runs.auto)} ms per call`);
    console.log(`one-row INSERT and its commit:                  ${f(runs.insert)} ms per call`);
    console.log(`(${calls} calls per figure, ${rows} studies, series and instances already stored)`);
    await generic.end();
    await auto.end();
  } finally {
    lib.dropDatabase(DB);
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
