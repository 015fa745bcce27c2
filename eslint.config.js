// Lint is part of `npm test`: it keeps domain/ pure and workflows/ deterministic.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', '.mandate/**', 'coverage/**', 'dist/**', 'test/replay/histories/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'no-eval': 'error',
      'no-new-func': 'error',
    },
  },
  {
    // domain/ is pure: safe inside the workflow sandbox, testable without I/O.
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: nodeBuiltins.map((name) => ({ name, message: 'domain/ is pure: no Node built-ins.' })),
        patterns: [{ group: ['@temporalio/*'], message: 'domain/ is pure: no Temporal imports.' },
          { group: ['**/db/**', '**/api/**', '**/activities/**', '**/worker/**', '**/workflows/**'], message: 'domain/ depends on nothing else in the project.' }],
      }],
      'no-restricted-globals': ['error', 'Date', 'setTimeout', 'setInterval', 'process', 'fetch'],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'domain/ has no randomness.' }],
    },
  },
  {
    // Workflow code is replayed: no I/O, no Node built-ins, time from the SDK only.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: nodeBuiltins.map((name) => ({ name, message: 'workflows/ run in the deterministic sandbox: no Node built-ins.' })),
        patterns: [{ group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'], message: 'Workflows import @temporalio/workflow only.' },
          { group: ['**/db/**', '**/api/**', '**/worker/**', 'pg', 'kysely', '@electric-sql/*', 'pino'], message: 'Workflows do no I/O.' },
          { group: ['**/activities/**'], allowTypeImports: true, message: 'Workflows import activity types only.' }],
      }],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Use the SDK clock: workflow time is replayed.' },
        { object: 'Math', property: 'random', message: 'Use the SDK random: workflow code is replayed.' }],
    },
  },
  {
    // Process files read as their steps: runStep, run.note (a remark or decision, written with
    // the next write) and run.attest (written before going on). The journal, the inbox and the
    // writes belong to the kernel (workflows/kernel/, process.ts, step*.ts): docs/ARCHITECTURE.md.
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/kernel/**', 'workflows/process.ts', 'workflows/step.ts', 'workflows/step-*.ts'],
    rules: {
      'no-restricted-syntax': ['error',
        { selector: "MemberExpression[property.name=/^(journal|inbox)$/]", message: 'Process files never reach the journal or the inbox: use runStep, run.note or run.attest.' },
        { selector: "CallExpression[callee.property.name=/^(recordStep|record|defer|carry|restore|take)$/]", message: 'Process files never write records themselves: use run.note or run.attest.' },
        { selector: "CallExpression[callee.object.name='wf'][callee.property.name=/^proxyLocalActivities$/]", message: 'Local activities only read (docs/ARCHITECTURE.md): declare readers in the kernel.' },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
