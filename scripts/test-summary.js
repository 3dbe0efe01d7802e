// Sums jest's --json results and pytest's junit xml into one line: "N passed, N failed".
// Usage: node scripts/test-summary.js JEST_JSON [PYTEST_XML] [MORE_JEST_JSON...]   (a missing file counts as
// nothing; the extra jest files are other jest runs, such as the fault suite)
const fs = require('node:fs');

function jestCounts(file) {
  if (!fs.existsSync(file)) return { passed: 0, failed: 0 };
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  // A suite that fails to run (syntax error, failing beforeAll import) has no failed test: count it.
  return { passed: r.numPassedTests, failed: r.numFailedTests + r.numRuntimeErrorTestSuites };
}

function pytestCounts(file) {
  if (!file || !fs.existsSync(file)) return { passed: 0, failed: 0 };
  const xml = fs.readFileSync(file, 'utf8');
  const suite = xml.match(/<testsuite\b[^>]*>/);
  if (!suite) return { passed: 0, failed: 1 };
  const attr = (name) => Number((suite[0].match(new RegExp(`\\b${name}="(\\d+)"`)) ?? [])[1] ?? 0);
  const failed = attr('failures') + attr('errors');
  return { passed: attr('tests') - failed - attr('skipped'), failed };
}

const [jestFile, pytestFile, ...moreJest] = process.argv.slice(2);
const counts = [jestCounts(jestFile), pytestCounts(pytestFile), ...moreJest.map(jestCounts)];
const sum = (key) => counts.reduce((n, c) => n + c[key], 0);
console.log(`${sum('passed')} passed, ${sum('failed')} failed`);
