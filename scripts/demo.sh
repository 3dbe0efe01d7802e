#!/usr/bin/env bash
# The main job on embedded defaults: install what is missing, build, generate one synthetic lumbar MR
# study, diagnose it with the shipped models, and print the findings beside the phantom's truth.
#   bash scripts/demo.sh [OUT_DIR]   (default out/demo in the repository)
set -euo pipefail
out=$(realpath -m "${1:-$(dirname "${BASH_SOURCE[0]}")/../out/demo}")
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
rm -rf "$out"
node packages/cli/dist/main.js phantom --out "$out/study" --studies 1 --seed 42
echo
echo "== lumbar analyze $out/study/study-0001 --out $out/result"
node packages/cli/dist/main.js analyze "$out/study/study-0001" --out "$out/result"
node -e '
const f = require(process.argv[1]); const t = require(process.argv[2]).studies[0].levels;
for (const l of f.levels) {
  const p = Object.entries(l.probabilities).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
  console.log(`${l.level}: ${l.diagnosis.padEnd(13)} truth ${String(t[l.level]).padEnd(8)} (${p})${l.reason ? " - " + l.reason : ""}`);
}
console.log(`timings (ms): ${JSON.stringify(f.timingsMs)}`);
console.log(`key images: ${f.keyImages.map((k) => k.file).join(", ")} in ${require("path").dirname(process.argv[1])}`);
' "$out/result/findings.json" "$out/study/truth.json"
