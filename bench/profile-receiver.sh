#!/usr/bin/env bash
# Per-instance phase profile of the receiver: sends N fresh phantom studies with DCMTK storescu (TCP_NODELAY=1,
# PARALLEL associations at once, one storescu each) to `lumbar serve receiver` at LUMBAR_LOG_LEVEL=debug, then
# prints, per phase of store.ts (its debug line "instance stored" carries `timingsMs`), the median, p95 and mean
# in ms over every instance, the two legs of the `durable` phase (the fsyncs and the row's commit, each timed
# from the moment the row is sent: `durableMs`), the time between successive answers on one association, and
# the rate.
# Needs Postgres and Redis on loopback (a database lumbar_profile is created and dropped).
# Usage: bench/profile-receiver.sh [N_STUDIES=5] [PARALLEL=1]     (KEEP=1 keeps the work folder and log;
# CPU_PROF=DIR writes the receiver's V8 CPU profile there, for chrome://inspect or speedscope)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
parallel=${2:-1}
work=$(mktemp -d)
db=postgresql://postgres@127.0.0.1:5432/lumbar_profile
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS lumbar_profile WITH (FORCE)' >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
[ -f packages/cli/dist/main.js ] || npx tsc -b
free_port() { node -e 's=require("net").createServer().listen(0,()=>{console.log(s.address().port);s.close()})'; }
export TCP_NODELAY=1

for p in $(seq 1 "$parallel"); do
  node packages/cli/dist/main.js phantom --out "$work/in/$p" --studies "$n" --seed "profile-rx-$$-$p" --quiet
done
port=$(free_port)
LUMBAR_DATABASE_URL=$db LUMBAR_DATA_DIR=$work/var LUMBAR_DICOM_PORT=$port LUMBAR_ALLOWED_CALLERS='*@127.0.0.1' \
  LUMBAR_QUEUE_PREFIX=lumbar-profile LUMBAR_LOG_LEVEL=debug LUMBAR_STABLE_SECONDS=3600 LUMBAR_MAX_ASSOCIATIONS=16 \
  node ${CPU_PROF:+--cpu-prof --cpu-prof-dir="$CPU_PROF"} packages/cli/dist/main.js serve receiver > "$work/lumbar.log" 2>&1 &
pids+=($!)
for i in $(seq 1 100); do
  echoscu -aec LUMBAR 127.0.0.1 "$port" 2>/dev/null && break
  sleep 0.2
done

files=$(find "$work/in" -name '*.dcm' | wc -l)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # user + system clock ticks of the receiver process
# user and system clock ticks of every process named $1 (all Postgres backends, Redis), summed
cpu_of() { for p in $(pgrep -x "$1"); do awk '{ print $14, $15 }' "/proc/$p/stat" 2>/dev/null; done | awk '{ u += $1; s += $2 } END { print u + 0, s + 0 }'; }
rx=$(pgrep -P "${pids[0]}" -f 'main.js serve receiver' || echo "${pids[0]}")
cpu0=$(cpu "$rx")
rx0=$(awk '{ print $14, $15 }' "/proc/$rx/stat")
pg0=$(cpu_of postgres)
redis0=$(cpu_of redis-server)
start=$(date +%s.%N)
# the senders run in a subshell whose `times` gives their CPU (user and system of its waited-for children)
scu=$(
  spids=()
  for d in "$work"/in/*/; do
    storescu -aet PROFILE -aec LUMBAR +sd +r +sp '*.dcm' 127.0.0.1 "$port" "$d" 2>> "$work/storescu.err" &
    spids+=($!)
  done
  for p in "${spids[@]}"; do wait "$p" || { cat "$work/storescu.err" >&2; exit 1; }; done
  times > "$work/times" # not in a pipeline: there `times` runs in a subshell without these children
  tail -1 "$work/times"
)
end=$(date +%s.%N)
cpu1=$(cpu "$rx")
rx1=$(awk '{ print $14, $15 }' "/proc/$rx/stat")
pg1=$(cpu_of postgres)
redis1=$(cpu_of redis-server)
hz=$(getconf CLK_TCK)
# CPU per instance by process: where the machine's two cores go (bash `times` prints e.g. 0m1.234s 0m0.567s)
awk -v files="$files" -v hz="$hz" -v rx0="$rx0" -v rx1="$rx1" -v pg0="$pg0" -v pg1="$pg1" -v r0="$redis0" -v r1="$redis1" -v scu="$scu" '
  function ms(a, b, i) { split(a, x, " "); split(b, y, " "); return (y[i] - x[i]) * 1000 / hz / files }
  function t(s) { split(s, p, /[ms]/); return (p[1] * 60 + p[2]) * 1000 / files }
  BEGIN {
    split(scu, c, " ")
    printf "CPU ms per instance (user+system): receiver %.2f+%.2f, postgres %.2f+%.2f, redis %.2f+%.2f, storescu %.2f+%.2f\n",
      ms(rx0, rx1, 1), ms(rx0, rx1, 2), ms(pg0, pg1, 1), ms(pg0, pg1, 2), ms(r0, r1, 1), ms(r0, r1, 2), t(c[1]), t(c[2])
  }'
sleep 0.3 # the last debug lines
redis-cli --scan --pattern 'lumbar-profile:*' 2>/dev/null | xargs -r redis-cli del >/dev/null 2>&1 || true

cpu_ms=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$(getconf CLK_TCK)" 'BEGIN { print (b - a) * 1000 / hz }')
node - "$work/lumbar.log" "$files" "$start" "$end" "$parallel" "$cpu_ms" <<'JS'
const fs = require('fs');
const [log, files, start, end, parallel, cpuMs] = process.argv.slice(2);
const phases = {};
const legs = { fsyncs: [], row: [] };
const ends = [];
let n = 0;
for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
  if (!line.includes('"timingsMs"')) continue;
  const rec = JSON.parse(line);
  n++;
  for (const [k, v] of Object.entries(rec.timingsMs)) (phases[k] ??= []).push(v);
  const d = rec.durableMs ?? {};
  if (d.fsyncs !== undefined && d.row !== undefined) {
    legs.fsyncs.push(d.fsyncs);
    legs.row.push(d.row);
  }
}
const q = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const row = (name, a) =>
  console.log(
    `${name.padEnd(22)} ${q(a, 0.5).toFixed(1).padStart(7)} ${q(a, 0.95).toFixed(1).padStart(7)} ` +
      `${(a.reduce((x, y) => x + y, 0) / a.length).toFixed(1).padStart(7)} ${String(a.length).padStart(6)}`,
  );
const secs = end - start;
console.log(
  `${n} of ${files} instances profiled; ${parallel} association(s); ${(files / secs).toFixed(1)} instances/s ` +
    `(${secs.toFixed(2)} s); per association one answer every ${((secs * 1000 * parallel) / files).toFixed(1)} ms; ` +
    `receiver CPU ${(cpuMs / files).toFixed(1)} ms per instance; load ${require('os').loadavg()[0].toFixed(1)} on ${require('os').cpus().length} cores`,
);
console.log(`${'phase (ms)'.padEnd(22)} ${'median'.padStart(7)} ${'p95'.padStart(7)} ${'mean'.padStart(7)} ${'n'.padStart(6)}`);
const total = [];
for (const [k, a] of Object.entries(phases)) {
  if (k === 'sender') continue;
  row(k, a);
  if (a.length === n) a.forEach((v, i) => (total[i] = (total[i] ?? 0) + v));
}
if (total.length) row('total (data->answer)', total);
if (phases.sender) row('sender (answer->data)', phases.sender);
if (legs.row.length) {
  // the durable phase's two legs, each timed from the moment the row is sent: the answer waits for the later one
  row('  durable: fsyncs leg', legs.fsyncs);
  row('  durable: row leg', legs.row);
  const later = legs.row.map((r, i) => r - legs.fsyncs[i]);
  console.log(
    `  the row is the later leg for ${((100 * later.filter((x) => x > 0).length) / later.length).toFixed(0)}% ` +
      `of instances (row minus fsyncs: median ${q(later, 0.5).toFixed(2)} ms)`,
  );
}
JS
