const fs = require('node:fs');
const path = require('node:path');

// Only roots that exist: git keeps no empty folder, so a fresh clone may lack services/ for a while.
const roots = ['packages', 'services', 'test'].filter((d) => fs.existsSync(path.join(__dirname, d)));

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: '<rootDir>/test/jest-environment.js',
  roots: roots.map((d) => `<rootDir>/${d}`),
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  moduleNameMapper: {
    // ES-module-only packages, loaded through Node's own require (see test/node-require/load.js).
    '^(typebox|content-disposition|cookie|set-cookie-parser)$': '<rootDir>/test/node-require/$1.js',
    '^typebox/value$': '<rootDir>/test/node-require/typebox-value.js',
    '^@lumbar/(receiver|worker|exporter|api|server)$': '<rootDir>/services/$1/src',
    '^@lumbar/([a-z-]+)$': '<rootDir>/packages/$1/src',
  },
  testTimeout: 120000,
};
