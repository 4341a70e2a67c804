import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The CLI tests spawn the real `usbms` from dist/: build it once before any test runs.
    globalSetup: ['test/apps/cli/global-setup.ts'],
    testTimeout: 20_000,
    pool: 'forks',
  },
});
