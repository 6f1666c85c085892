import { configDefaults, defineConfig } from 'vitest/config';

/** The secret check greps the logs of every other test file, so it runs after them (groupOrder). */
const LOG_CHECKS = 'test/logs/**/*.test.ts';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
    globalSetup: ['test/support/log-capture-global.ts'],
    setupFiles: ['test/support/log-capture.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, LOG_CHECKS],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'logs', include: [LOG_CHECKS], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
