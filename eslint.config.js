// Lint rules: typescript-eslint's recommended set, no floating promises (CONTRIBUTING.md), and a
// boundary rule: pure layers (codecs, the command table) may not import I/O or clocks.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = ['node:fs', 'node:fs/promises', 'node:net', 'node:child_process', 'node:dgram', 'node:http', 'lmdb'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'src/protocol/native/gen/', 'catena-data/', '.bench/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: 'error',
    },
  },
  {
    files: [
      'src/protocol/**/codec.ts',
      'src/protocol/**/frame.ts',
      'src/protocol/**/wire.ts',
      'src/commands/**/*.ts',
      'src/storage/store.ts',
      'src/replication/**/*.ts',
      'src/coordination/manager.ts',
      'src/sharding/**/*.ts',
      'src/testing/linearizability/**/*.ts',
      // The replica takes its clock, timers and peers from its environment (environment.ts).
      'src/server/replica/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: ioModules.map((name) => ({ name, message: 'pure layer: no I/O here' })) },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'pure layer: time arrives as input' },
        { name: 'setInterval', message: 'pure layer: time arrives as input' },
        { name: 'setImmediate', message: 'pure layer: time arrives as input' },
        { name: 'queueMicrotask', message: 'pure layer: deferred work goes through the environment' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'pure layer: use the Clock' },
        { object: 'Math', property: 'random', message: 'pure layer: randomness arrives as input' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // The dashboard's page script runs in a browser (src/server/dashboard.ts serves it).
    files: ['dashboard/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'document',
          'location',
          'history',
          'sessionStorage',
          'fetch',
          'AbortController',
          'Node',
          'setTimeout',
          'clearTimeout',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
