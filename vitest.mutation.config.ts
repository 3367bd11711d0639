import { defineConfig } from 'vitest/config';

/**
 * The tests of the guard and pipeline modules only, for the mutation run (stryker.config.json;
 * src/config.ts has a run of its own, stryker.config-patterns.json): each mutant is tested by the
 * tests that cover it, so this set is kept small and fast.
 */
export default defineConfig({
  test: {
    include: [
      'tests/unit/access.test.ts',
      'tests/unit/feed-plan.test.ts',
      'tests/integration/request-signing.test.ts',
      'tests/integration/pipeline-guards.test.ts',
      'tests/integration/pipeline.test.ts',
      'tests/integration/delivery-log.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
