import { defineConfig } from 'vitest/config';

/**
 * The configuration tests only, for the mutation run of src/config.ts (stryker.config-patterns.json):
 * its schema is built when the module loads, so each of its mutants runs every test of the set.
 */
export default defineConfig({
  test: {
    include: ['tests/unit/config.test.ts', 'tests/unit/config-patterns.test.ts'],
    pool: 'forks',
  },
});
