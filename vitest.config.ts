import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One real Temporal dev server and one workflow bundle for the whole run.
    globalSetup: ['test/support/temporal-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2 cores: a few files at a time keeps the dev server responsive.
    maxWorkers: 2,
    pool: 'forks',
  },
});
