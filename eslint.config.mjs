import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Modules that do I/O. The pure packages (imaging, pipeline) must not import them: they receive data and
// return data, and the edges (cli, services, inference, db) do the I/O.
const IO_MODULES = [
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'net',
  'node:net',
  'http',
  'node:http',
  'https',
  'node:https',
  'child_process',
  'node:child_process',
  'worker_threads',
  'node:worker_threads',
  'fastify',
  'bullmq',
  'ioredis',
  '@prisma/client',
  'onnxruntime-node',
  'dcmjs-dimse',
  'pino',
];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'training/**', 'models/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
        __filename: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        performance: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['packages/imaging/src/**/*.ts', 'packages/pipeline/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: IO_MODULES.map((name) => ({
            name,
            message: 'imaging and pipeline are pure: do I/O at the edges.',
          })),
        },
      ],
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
