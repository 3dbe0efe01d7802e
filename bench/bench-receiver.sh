#!/usr/bin/env bash
# Receiver throughput: DCMTK storescu (TCP_NODELAY=1) sends the same kind of fresh phantom studies to our C-STORE
# SCP (`lumbar serve receiver`: stream to disk, fsync file and folder, Postgres row, debounce job, then the
# answer), to Orthanc (default config) and to DCMTK storescp (writes each file, no fsync, no index: the ceiling
# of storescu on this machine, not durable), alternating (each round starts with the next of the three), ROUNDS
# rounds of N studies each; prints instances/s per run, the medians and the ratios. Needs Postgres and Redis on
# loopback (a database lumbar_bench is created and dropped). With PARALLEL > 1, each run sends PARALLEL sets of
# N studies at once, one storescu (association) per set. Set PROFILE=1 to print the receiver's per-phase profile
# (bench/profile-receiver.sh does one run).
# Also prints the server side's CPU per instance: ours (receiver, Postgres, Redis) against Orthanc's process.
# Usage: bench/bench-receiver.sh [N_STUDIES=5] [ROUNDS=3] [PARALLEL=1]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
rounds=${2:-3}
parallel=${3:-1}
work=$(mktemp -d)
db=postgresql://postgres@127.0.0.1:5432/lumbar_bench
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS lumbar_bench WITH (FORCE)' >/dev/null 2>&1 || true
  redis-cli --scan --pattern 'lumbar-bench:*' 2>/dev/null | xargs -r redis-cli del >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
[ -f packages/cli/dist/main.js ] || npx tsc -b
free_port() { node -e 's=require("net").createServer().listen(0,()=>{console.log(s.address().port);s.close()})'; }
export TCP_NODELAY=1
targets=(ours orthanc storescp)

# Inputs: one fresh set per round and per target, so no run re-sends instances the peer already holds.
for r in $(seq 1 "$rounds"); do
  for target in "${targets[@]}"; do
    for p in $(seq 1 "$parallel"); do
      node packages/cli/dist/main.js phantom --out "$work/in-$target-$r/$p" --studies "$n" --seed "bench-rx-$target-$r-$p" --quiet
    done
  done
done

ours_port=$(free_port)
level=warn
[ -n "${PROFILE:-}" ] && level=debug
LUMBAR_DATABASE_URL=$db LUMBAR_DATA_DIR=$work/var LUMBAR_DICOM_PORT=$ours_port LUMBAR_ALLOWED_CALLERS='*@127.0.0.1' \
  LUMBAR_QUEUE_PREFIX=lumbar-bench LUMBAR_LOG_LEVEL=$level LUMBAR_STABLE_SECONDS=3600 LUMBAR_MAX_ASSOCIATIONS=16 \
  node packages/cli/dist/main.js serve receiver > "$work/lumbar.log" 2>&1 &
ours_pid=$!
pids+=($!)
orthanc_port=$(free_port)
orthanc_http=$(free_port)
mkdir -p "$work/orthanc"
cat > "$work/orthanc.json" <<JSON
{ "Name": "bench", "StorageDirectory": "$work/orthanc", "IndexDirectory": "$work/orthanc", "DicomAet": "ORTHANC",
  "DicomPort": $orthanc_port, "HttpPort": $orthanc_http, "RemoteAccessAllowed": false, "Plugins": [], "SaveJobs": false }
JSON
/usr/sbin/Orthanc "$work/orthanc.json" > "$work/orthanc.log" 2>&1 &
orthanc_pid=$!
pids+=($!)
storescp_port=$(free_port)
mkdir -p "$work/storescp"
# --fork: one process per association, as the others serve associations in parallel
storescp --fork -aet STORESCP -od "$work/storescp" "$storescp_port" > "$work/storescp.log" 2>&1 &
pids+=($!)
for i in $(seq 1 100); do
  echoscu -aec LUMBAR 127.0.0.1 "$ours_port" 2>/dev/null && echoscu -aec ORTHANC 127.0.0.1 "$orthanc_port" 2>/dev/null &&
    echoscu -aec STORESCP 127.0.0.1 "$storescp_port" 2>/dev/null && break
  sleep 0.2
done

rate() { # rate AEC PORT DIR -> instances/s (one storescu per subfolder of DIR, all at once)
  local files start end spids=()
  files=$(find "$3" -name '*.dcm' | wc -l)
  start=$(date +%s.%N)
  for d in "$3"/*/; do
    storescu -aet BENCH -aec "$1" +sd +r +sp '*.dcm' 127.0.0.1 "$2" "$d" 2>> "$work/storescu.err" &
    spids+=($!)
  done
  for p in "${spids[@]}"; do wait "$p" || { echo "storescu to $1 failed:" >&2; cat "$work/storescu.err" >&2; exit 1; }; done
  end=$(date +%s.%N)
  awk -v f="$files" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", f / (e - s) }'
}
ours=(); orth=(); scp=()
# Server-side CPU (user + system clock ticks): ours is the receiver, every Postgres process and Redis; Orthanc
# is its one process (its index is SQLite, in-process). storescp forks per association: not counted.
ticks() { for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null; done | awk '{ s += $1 } END { print s + 0 }'; }
ours_ticks() { ticks "$ours_pid" $(pgrep -x postgres) $(pgrep -x redis-server); }
ours_cpu=0; orth_cpu=0
run_ours() {
  local c0
  c0=$(ours_ticks)
  ours+=("$(rate LUMBAR "$ours_port" "$work/in-ours-$1")")
  ours_cpu=$((ours_cpu + $(ours_ticks) - c0))
}
run_orthanc() {
  local c0
  c0=$(ticks "$orthanc_pid")
  orth+=("$(rate ORTHANC "$orthanc_port" "$work/in-orthanc-$1")")
  orth_cpu=$((orth_cpu + $(ticks "$orthanc_pid") - c0))
}
run_storescp() { scp+=("$(rate STORESCP "$storescp_port" "$work/in-storescp-$1")"); }
# The inputs just written are flushed first: the kernel's writeback of them would otherwise compete with the first
# runs' fsyncs. Each round starts with the next target (ours, Orthanc, storescp; then Orthanc, storescp, ours; ...):
# whatever still changes during the run (the file system settling, another process) falls on each alike.
sync
for r in $(seq 1 "$rounds"); do
  for k in 0 1 2; do
    "run_${targets[$(((r - 1 + k) % 3))]}" "$r"
  done
  echo "round $r: lumbar receiver ${ours[-1]} instances/s, Orthanc ${orth[-1]} instances/s, storescp ${scp[-1]} instances/s"
done
stored=$(psql -tA -h 127.0.0.1 -U postgres -d lumbar_bench -c 'SELECT count(*) FROM instances')
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mo=$(median "${ours[@]}"); mr=$(median "${orth[@]}"); ms=$(median "${scp[@]}")
sent=$(find "$work"/in-ours-* -name '*.dcm' | wc -l)
echo "instances sent to lumbar: $sent over $rounds rounds, $parallel association(s) at once; rows stored: $stored"
[ "$stored" -eq "$sent" ] || { echo "MISMATCH: lumbar stored $stored of $sent instances"; exit 1; }
awk -v a="$mo" -v b="$mr" -v s="$ms" -v c="$(nproc)" -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
  printf "median: lumbar receiver %.1f instances/s, Orthanc %.1f, storescp (not durable) %.1f; lumbar/Orthanc %.2f, lumbar/storescp %.2f (%d cores, load %s)\n", a, b, s, a / b, a / s, c, l }'
sent_orthanc=$(find "$work"/in-orthanc-* -name '*.dcm' | wc -l)
awk -v a="$ours_cpu" -v n="$sent" -v b="$orth_cpu" -v m="$sent_orthanc" -v hz="$(getconf CLK_TCK)" 'BEGIN {
  printf "server CPU per instance (user+system): lumbar receiver+Postgres+Redis %.2f ms, Orthanc %.2f ms\n", a * 1000 / hz / n, b * 1000 / hz / m }'
if [ -n "${PROFILE:-}" ]; then
  node -e '
    const phases = {};
    for (const line of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) {
      if (!line.includes("\"timingsMs\"")) continue;
      for (const [k, v] of Object.entries(JSON.parse(line).timingsMs)) (phases[k] ??= []).push(v);
    }
    const q = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];
    for (const [k, a] of Object.entries(phases))
      console.log(`${k.padEnd(10)} median ${q(a, 0.5).toFixed(1)} ms, p95 ${q(a, 0.95).toFixed(1)} ms (${a.length})`);
  ' "$work/lumbar.log"
fi
