#!/usr/bin/env bash
# Installs what the project needs, from a fresh clone or an existing tree. Idempotent: each step checks
# first and does nothing when its part is already in place, so a second run takes a few seconds.
#   bash scripts/setup.sh             install everything, then build (npx tsc -b)
#   bash scripts/setup.sh --no-build  install only (scripts/test.sh builds as a step of its own)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=1
[ "${1:-}" = "--no-build" ] && build=0

log() { echo "[setup] $*" >&2; }
hash_of() { sha256sum "$1" | cut -d' ' -f1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. System tools: DCMTK (storescu, dcmdump, dsrdump), dicom3tools (dciodvfy), Orthanc (a real PACS peer
#    for tests), openssl (test certificates for DICOM TLS), Chromium (headless: renders the `lumbar validate`
#    report in its test). Tests start their own Orthanc on free ports; the package's own service must not start.
missing=()
for tool in storescu dcmdump dsrdump; do command -v "$tool" >/dev/null || { missing+=(dcmtk); break; }; done
command -v dciodvfy >/dev/null || missing+=(dicom3tools)
[ -x /usr/sbin/Orthanc ] || missing+=(orthanc)
command -v openssl >/dev/null || missing+=(openssl)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || { log "need ${missing[*]} and there is no apt-get: install them by hand"; exit 1; }
  log "apt-get install ${missing[*]}"
  # policy-rc.d exit 101 = "do not start services": keeps orthanc's postinst from starting a system
  # Orthanc on 4242/8042. Only ours, only while we install.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
    trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Node packages: npm ci when node_modules is missing or package-lock.json changed since the last install
#    (the stamp lives inside node_modules, so deleting node_modules also invalidates it).
npm_stamp=node_modules/.lumbar-lock.sha256
lock_hash=$(hash_of package-lock.json)
if [ ! -d node_modules ] || [ "$(cat "$npm_stamp" 2>/dev/null)" != "$lock_hash" ]; then
  log "npm ci"
  # onnxruntime-node's install script downloads CUDA files, which cannot be fetched here (see PITFALLS.md).
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$npm_stamp"
fi

# 2b. Prisma client (packages/db/src/generated, not committed): regenerated when the schema changed. Prisma's
#     CLI wants a schema-engine binary it cannot download here; `generate` does not use it, so any file will
#     do (migrations are applied by `lumbar db migrate`, see docs/DATABASE.md).
gen_stamp=packages/db/src/generated/.schema.sha256
schema_hash=$(cat prisma/schema.prisma package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$gen_stamp" 2>/dev/null)" != "$schema_hash" ]; then
  log "prisma generate"
  engine=${PRISMA_SCHEMA_ENGINE_BINARY:-$(mktemp "${TMPDIR:-/tmp}/no-schema-engine.XXXXXX")}
  PRISMA_SCHEMA_ENGINE_BINARY=$engine PRISMA_HIDE_UPDATE_MESSAGE=1 npx prisma generate >/dev/null
  echo "$schema_hash" > "$gen_stamp"
fi

# 3. Python venv for training/ (torch CPU build comes from the local wheel: pip picks torch==2.13.0 from disk).
venv=training/.venv
req=training/requirements.txt
if [ ! -f "$req" ]; then
  log "no $req: writing a provisional one (owned by training/)"
  printf 'torch==2.13.0\nnumpy==2.4.6\npytest==9.2.0\n' > "$req"
fi
if [ ! -x "$venv/bin/python" ]; then
  log "python3 -m venv $venv"
  python3 -m venv "$venv"
fi
req_stamp=$venv/.requirements.sha256
req_hash=$(hash_of "$req")
if [ "$(cat "$req_stamp" 2>/dev/null)" != "$req_hash" ]; then
  log "pip install -r $req"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  echo "$req_hash" > "$req_stamp"
fi

# 4. Build the TypeScript project references.
if [ "$build" = 1 ]; then
  log "npx tsc -b"
  npx tsc -b
fi
