#!/usr/bin/env bash
# Demo: install what is missing, build, and write one synthetic lumbar MR study.
#   bash scripts/demo.sh [OUT_DIR]   (default out/demo in the repository)
set -euo pipefail
out=$(realpath -m "${1:-$(dirname "${BASH_SOURCE[0]}")/../out/demo}")
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
node packages/cli/dist/main.js phantom --out "$out" --studies 1 --seed 42
