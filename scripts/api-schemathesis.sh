#!/usr/bin/env bash
# Schema fuzzing of the REST API (docs/API.md, "Schema fuzzing"): runs schemathesis against the API's own
# /openapi.json, with an admin key, every check, and fails on whatever it finds (5xx, answers that do not
# match their schema, undocumented status codes, inputs accepted that the schema forbids).
#
#   scripts/api-schemathesis.sh [extra schemathesis options]
#
# It makes a throwaway database (migrated, seeded with a few studies, results, files and exports so that the
# routes answer 200 as well as 404), starts `lumbar serve api` on a free loopback port with a bootstrap admin
# key, runs schemathesis, then stops the API, drops the database and deletes the queue keys and the folder.
# schemathesis lives in its own venv (.venv-schemathesis, ignored by git), installed from PyPI when missing.
#
# Environment: SCHEMATHESIS_MAX_EXAMPLES (per operation, default 50), SCHEMATHESIS_MAX_TIME (seconds, default
# 80), SCHEMATHESIS_SEED (default 1: the same run each time; "random" for a new one), SCHEMATHESIS_VENV,
# LUMBAR_TEST_PG (admin URL of Postgres, default postgresql://postgres@127.0.0.1:5432/postgres),
# LUMBAR_REDIS_URL (default redis://127.0.0.1:6379).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCHEMATHESIS_VERSION=4.32.5
VENV="${SCHEMATHESIS_VENV:-$ROOT/.venv-schemathesis}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-50}"
MAX_TIME="${SCHEMATHESIS_MAX_TIME:-80}"
SEED="${SCHEMATHESIS_SEED:-1}"
PG_ADMIN_URL="${LUMBAR_TEST_PG:-postgresql://postgres@127.0.0.1:5432/postgres}"
export LUMBAR_REDIS_URL="${LUMBAR_REDIS_URL:-redis://127.0.0.1:6379}"

log() { printf '[api-schemathesis] %s\n' "$*" >&2; }

# 1. The tool, pinned, in its own venv.
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# 2. The build (incremental: fast when it is there).
if [ ! -f packages/cli/dist/main.js ] || [ ! -f services/api/dist/index.js ]; then
  log "building"
  npx tsc -b
fi

# 3. A database, a data folder, a queue prefix and an admin key of this run only.
RUN_ID="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
DB_NAME="lumbar_fuzz_$$_$RUN_ID"
export LUMBAR_DATABASE_URL="$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.toString())' "$PG_ADMIN_URL" "$DB_NAME")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/lumbar-fuzz-XXXXXX")"
export LUMBAR_DATA_DIR="$WORK/data"
export LUMBAR_QUEUE_PREFIX="lumbar-fuzz-$RUN_ID"
export LUMBAR_BOOTSTRAP_API_KEY="lk_fuzz${RUN_ID:0:4}_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
export LUMBAR_LOG_LEVEL="${LUMBAR_LOG_LEVEL:-warn}"
export LUMBAR_API_HOST=127.0.0.1
export LUMBAR_API_PORT="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
API_PID=""

cleanup() {
  local rc=$?
  if [ -n "$API_PID" ] && kill -0 "$API_PID" 2>/dev/null; then
    kill -TERM "$API_PID" 2>/dev/null || true
    wait "$API_PID" 2>/dev/null || true
  fi
  # The database, then the queue keys (re-analyses and retries queue jobs that no worker will take).
  node - "$PG_ADMIN_URL" "$DB_NAME" "$LUMBAR_REDIS_URL" "$LUMBAR_QUEUE_PREFIX" <<'EOF' || log "cleanup failed"
const [pgUrl, dbName, redisUrl, prefix] = process.argv.slice(2);
const { Client } = require('pg');
const Redis = require('ioredis');
(async () => {
  const c = new Client({ connectionString: pgUrl });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await c.end();
  const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  const keys = await r.keys(`${prefix}:*`);
  if (keys.length) await r.del(...keys);
  r.disconnect();
})().catch((err) => { console.error(err.message); process.exit(1); });
EOF
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "database $DB_NAME, API on 127.0.0.1:$LUMBAR_API_PORT"
node packages/cli/dist/main.js db migrate >/dev/null

# 4. Seed: the studies 1 to 3 (ids the coverage phase tries first), results with files for 1 and 2, a failed
#    and a sent export, so that the routes answer 200, 404 and 409 and not only 404.
node - "$WORK/out" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const { ALGORITHM } = require('@lumbar/core');
const db = require('@lumbar/db');
const outRoot = process.argv[2];
(async () => {
  const client = db.openDb(process.env.LUMBAR_DATABASE_URL, { poolSize: 2 });
  const dicm = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM')]);
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  for (const n of [1, 2, 3]) {
    const uid = `1.2.826.0.1.3680043.10.543.${n}`;
    const { studyId } = await db.recordInstance(client, {
      studyInstanceUid: uid, seriesInstanceUid: `${uid}.1`, sopInstanceUid: `${uid}.1.1`,
      sopClassUid: '1.2.840.10008.5.1.4.1.1.4', transferSyntaxUid: '1.2.840.10008.1.2.1',
      path: `/nowhere/${n}.dcm`, sizeBytes: 1000, sha256: 'ab'.repeat(32), callingAeTitle: 'STORESCU',
      patientId: 'FUZZ', patientName: 'Fuzz^Test', accessionNumber: `ACC${n}`, studyDate: '20240102',
      studyDescription: 'MR LUMBAR SPINE', modality: 'MR', seriesNumber: 1, seriesDescription: 'T2 SAG',
    });
    if (n === 3) continue; // a study without results
    const analysis = await db.ensureAnalysis(client, studyId, ALGORITHM);
    const outputDir = path.join(outRoot, String(studyId), String(analysis.id));
    fs.mkdirSync(path.join(outputDir, 'key-images'), { recursive: true });
    fs.writeFileSync(path.join(outputDir, 'seg-sagittal.dcm'), dicm);
    fs.writeFileSync(path.join(outputDir, 'sr.dcm'), dicm);
    fs.writeFileSync(path.join(outputDir, 'key-images', '1.png'), png);
    const levels = ['L4-L5', 'L5-S1'].map((level) => ({
      level, diagnosis: 'healthy', reason: null,
      probabilities: { healthy: 0.6, bulge: 0.1, central: 0.1, left: 0.1, right: 0.1 },
    }));
    const u = (s) => `2.25.${studyId}.${analysis.id}.${s}`;
    const outputs = [
      { kind: 'seg', view: 'sagittal', file: 'seg-sagittal.dcm', sopClassUid: '1.2.840.10008.5.1.4.1.1.66.4' },
      { kind: 'sr', file: 'sr.dcm', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.33' },
    ].map((o, i) => ({ ...o, sopInstanceUid: u(`${i}1`), seriesInstanceUid: u(`${i}2`) }));
    const document = { summary: 'no herniation', levels,
      keyImages: [{ file: 'key-images/1.png', title: 'mid-sagittal', sopInstanceUid: u('9') }] };
    await db.saveAnalysisResult(client, { analysisId: analysis.id, studyId, summary: 'no herniation', document, outputDir },
      levels, outputs, n === 1 ? ['PACS@127.0.0.1:104', 'ARCHIVE@127.0.0.1:105'] : []);
  }
  const [failed, sent] = await client.export.findMany({ orderBy: { id: 'asc' } });
  await db.markExportResult(client, failed.id, { ok: false, final: true, status: 0xa700, error: 'out of resources' });
  await db.markExportResult(client, sent.id, { ok: true, final: true, status: 0 });
  await client.$disconnect();
})().catch((err) => { console.error(err); process.exit(1); });
EOF

# 5. The API, alone.
node packages/cli/dist/main.js serve api >"$WORK/api.log" 2>&1 &
API_PID=$!
BASE="http://127.0.0.1:$LUMBAR_API_PORT"
for _ in $(seq 1 100); do
  if curl -fsS "$BASE/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$API_PID" 2>/dev/null; then
    log "the API did not start:"; cat "$WORK/api.log" >&2; exit 1
  fi
  sleep 0.2
done

# 6. schemathesis: every phase and every check, a bounded number of examples and a time limit.
#    Two exceptions to "a schema-valid request is never refused with 400", documented in docs/API.md:
#    - a page cursor is opaque, so a well-formed string the API did not issue, and an audit window whose
#      `since` is not before `until`, fit the schema and still get 400 BAD_INPUT (/findings, /audit);
#    - the stateful phase infers links from path-like strings in answers: the audit trail's `details.route`
#      holds route patterns (`/studies/:id/sr`), which it sends back as ids (`/studies/%3Aid/sr`) that the
#      schema forbids. The coverage and fuzzing phases still check every operation for this.
cat >"$WORK/schemathesis.toml" <<'EOF'
[phases.stateful.checks]
positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409]

[[operations]]
include-path = ["/findings", "/audit"]
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409]
EOF
SEED_OPT=()
[ "$SEED" = random ] || SEED_OPT=(--seed "$SEED")
log "schemathesis run $BASE/openapi.json --checks all --max-examples $MAX_EXAMPLES --max-time $MAX_TIME"
set +e
"$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$BASE/openapi.json" \
  --header "Authorization: Bearer $LUMBAR_BOOTSTRAP_API_KEY" \
  --checks all \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --request-timeout 10 \
  --workers 2 \
  "${SEED_OPT[@]}" \
  "$@"
RC=$?
set -e
if grep -q '"level":5[0-9]' "$WORK/api.log"; then
  log "the API logged errors:"; grep '"level":5[0-9]' "$WORK/api.log" | tail -20 >&2
  [ "$RC" -ne 0 ] || RC=1
fi
exit "$RC"
