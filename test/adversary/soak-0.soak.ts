// Shard 0 of `npm run soak` (see soak-shard.ts); fails when the shard saw any violation.
import { expect, it } from 'vitest';
import { runShard } from './soak-shard.js';
import { report, violationCount } from './stats.js';

it('soak shard 0', async () => {
  const t = await runShard(0);
  expect(violationCount(t), report(t)).toBe(0);
});
