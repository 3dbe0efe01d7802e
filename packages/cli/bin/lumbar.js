#!/usr/bin/env node
// The `lumbar` command (`npx lumbar ...`). npm links a package's bin when it installs it, before
// `npm run build` has written dist/, and it links nothing for a file that is missing then; so the bin is
// this committed launcher, with its run bit, and it loads the built CLI each time it runs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const built = path.join(__dirname, '..', 'dist', 'main.js');
if (!fs.existsSync(built)) {
  process.stderr.write(
    `lumbar: the command is not built yet (${built} is missing): run \`npm run build\` at the repository root first.\n`,
  );
  process.exit(1);
}
require(built)
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
