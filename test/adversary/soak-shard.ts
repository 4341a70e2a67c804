/**
 * One shard of `npm run soak`: schedules SEED:i for every i of this shard (i % shards === shard), totals
 * written to SOAK_OUT_DIR/shard-N.json for soak-setup.ts to merge and print. Environment:
 *   SOAK_SCHEDULES (default 100000), SOAK_SEED (default 1), SOAK_ONLY=[uas:]SEED:INDEX (replay one, in detail),
 *   SOAK_PROTOCOL=uas (the UAS adversary instead of the Bulk-Only one),
 *   SOAK_PROFILE=test|soak (timeouts; default soak).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { runSchedule } from './run.js';
import { makeSchedule, parseId, type Profile } from './schedule.js';
import { add, emptyTotals, report, type Totals } from './stats.js';

export const SHARDS = 2;

export async function runShard(shard: number): Promise<Totals> {
  const profile: Profile = process.env.SOAK_PROFILE === 'test' ? 'test' : 'soak';
  const t = emptyTotals();
  const only = process.env.SOAK_ONLY;
  if (only !== undefined && only !== '') {
    if (shard === 0) {
      const { seed, index, protocol } = parseId(only);
      const s = makeSchedule(seed, index, profile, protocol);
      process.stderr.write(`schedule ${s.id} (${profile} profile):\n${JSON.stringify({ ...s, plan: {
        commands: [...s.plan.commands], controls: [...s.plan.controls], unplug: s.plan.unplug } }, null, 1)}\n`);
      const r = await runSchedule(s);
      process.stderr.write(`result:\n${JSON.stringify(r, null, 1)}\n`);
      add(t, r);
    }
  } else {
    const n = Number(process.env.SOAK_SCHEDULES ?? 100_000);
    const seed = Number(process.env.SOAK_SEED ?? 1);
    const protocol = process.env.SOAK_PROTOCOL === 'uas' ? 'uas' : 'bot';
    const t0 = Date.now();
    // The longest the event loop was kept from running during each schedule: the soak's deadlines are 10-20 ms, so
    // a machine starved of CPU can time out a healthy command. Printed beside a violation (never changes a verdict),
    // so that a reader can tell a starved schedule from a broken one (then SOAK_ONLY=... replays it on a quiet machine).
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    for (let i = shard; i < n; i += SHARDS) {
      lag.reset();
      const r = await runSchedule(makeSchedule(seed, i, profile, protocol));
      add(t, r);
      // Said at once, so a long run can be investigated (SOAK_ONLY=...) before it ends.
      const delayed = `(event loop held up to ${(lag.max / 1e6).toFixed(0)} ms in this schedule)`;
      for (const v of r.violations) process.stderr.write(`[soak shard ${shard}] ${v.cls} ${r.id} ${v.detail.split('\n')[0]} ${delayed}\n`);
      if (t.schedules % 2000 === 0) {
        const bad = Object.values(t.violations).reduce((a, l) => a + l.length, 0);
        process.stderr.write(`[soak shard ${shard}] ${t.schedules} schedules, ${bad} violations, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
      }
    }
    lag.disable();
  }
  const dir = process.env.SOAK_OUT_DIR;
  if (dir !== undefined) writeFileSync(join(dir, `shard-${shard}.json`), JSON.stringify(t));
  else process.stderr.write(`${report(t)}\n`);
  return t;
}
