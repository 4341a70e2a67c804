// `npm run soak`: the adversarial schedules at length, one shard per core (see soak-shard.ts for the knobs).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/adversary/soak-*.soak.ts'],
    globalSetup: ['test/adversary/soak-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 24 * 3600 * 1000,
    hookTimeout: 60_000,
  },
});
