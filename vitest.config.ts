import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    // Test files mostly wait on Redis/Postgres, so use at least two workers even on small machines.
    maxWorkers: Math.max(2, availableParallelism()),
  },
});
