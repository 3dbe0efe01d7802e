// The fault suite (docs/RELIABILITY.md): `npx jest --config test/faults/jest.config.js`. Real processes
// (the node, Redis, PostgreSQL, Orthanc, storescu) are started and killed, so the files run one at a time.
// The files are named *.fault.ts, so that the ordinary `jest` run (which matches *.test.ts) leaves them out.
const base = require('../../jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  rootDir: '../..',
  roots: ['<rootDir>/test/faults'],
  testMatch: ['**/*.fault.ts'],
  maxWorkers: 1,
  // one case (a file) may take a few minutes; every wait inside it has its own, shorter limit
  testTimeout: 300_000,
  // dcmjs-dimse keeps its PDU timers (60 s) alive after sockets close (as scripts/test.sh says)
  forceExit: true,
};
