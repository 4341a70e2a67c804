/**
 * The adversarial UAS disk against the whole stack (openUsbms on its port: UAS under the HBA and the disk driver):
 * the oracle's self-test, one regression test per lie, the concurrency cases, and a bounded share of the seeded UAS
 * schedules (`SOAK_PROTOCOL=uas npm run soak` runs many more). A schedule that fails names itself uas:SEED:INDEX.
 */
import { describe, expect, it } from 'vitest';
import { runSchedule, type ScheduleResult } from './run.js';
import { makeSchedule } from './schedule.js';
import { add, emptyTotals, report, violationCount } from './stats.js';
import { ALL_UAS_FAULT_KINDS, type UasFaultKind } from './uas-faults.js';
import { uasSchedule, uasTargeted } from './uas-targeted.js';

const brief = (r: ScheduleResult): string[] => r.violations.map((v) => `${v.cls} ${v.detail.split('\n')[0]}`);
const steps = [
  { ops: [{ k: 'write' as const, lun: 0, lba: 0, blocks: 8, id: 1 }] },
  { ops: [{ k: 'read' as const, lun: 0, lba: 0, blocks: 8 }] },
];

describe('UAS: the oracle can fail (self-test with lies that break the adversary\'s own rule)', () => {
  it('a READ corrupted while it reports GOOD is CORRUPT', async () => {
    const r = await runSchedule(uasSchedule('uas-self:corrupt', steps), undefined, (d) => { d.sabotage.silentCorruption = true; });
    expect(r.violations.map((v) => v.cls)).toContain('CORRUPT');
  });
  it('a write that also lands on the next block is STRAY-WRITE', async () => {
    const r = await runSchedule(uasSchedule('uas-self:stray', steps), undefined, (d) => { d.sabotage.strayWrite = true; });
    expect(r.violations.map((v) => v.cls)).toContain('STRAY-WRITE');
  });
  it('a device that never answers once the faults stop is STUCK', async () => {
    const r = await runSchedule(uasSchedule('uas-self:stuck', steps), undefined, (d) => { d.sabotage.deadAfterFaults = true; });
    expect(r.violations.map((v) => v.cls)).toContain('STUCK');
  });
});

describe('UAS: every lie, one at a time: the stack survives it with no violation', () => {
  it.each(ALL_UAS_FAULT_KINDS.map((k) => [k]))('%s', async (kind: UasFaultKind) => {
    const r = await runSchedule(uasTargeted(kind));
    expect(r.faults[kind] ?? 0, `the lie ${kind} was told`).toBeGreaterThan(0);
    expect(brief(r)).toEqual([]);
  });
});

describe('UAS concurrency: many callers, two LUNs, FLAG_HEAD, abort, reset, close, hot unplug', () => {
  const crowd = (id: number): { k: 'read' | 'write' | 'pkt-read'; lun: number; lba: number; blocks: number; id: number; head: boolean }[] =>
    Array.from({ length: 8 }, (_, i) => ({
      k: (['read', 'write', 'pkt-read'] as const)[i % 3]!, lun: i % 2, lba: 8 * i, blocks: 6 + i, id: id + i, head: i % 4 === 2,
    }));
  const run = async (name: string, disrupt?: 'abort-all' | 'abort-one' | 'reset-lun' | 'reset-target' | 'reset-bus' | 'close' | 'unplug'): Promise<ScheduleResult> =>
    runSchedule(uasSchedule(`uas-concurrency:${name}`, [
      { ops: crowd(100), ...(disrupt === undefined ? {} : { disrupt: { k: disrupt, lun: 1, afterTicks: 3 } }) },
      { ops: crowd(200) },
    ], { lunBlocks: [128, 128] }));
  it('eight callers across two LUNs all complete and read back right', async () => {
    const r = await run('crowd');
    expect(brief(r)).toEqual([]);
    expect(r.ops.failed).toBe(0);
    expect(r.ops.ok).toBe(16);
  });
  it.each([['abort-all'], ['abort-one'], ['reset-lun'], ['reset-target'], ['reset-bus'], ['close']] as const)(
    '%s with packets in flight on both LUNs', async (d) => {
      expect(brief(await run(d, d))).toEqual([]);
    });
  it('hot unplug with everything in flight: each op completes device-gone, then a re-plug works', async () => {
    const r = await run('unplug', 'unplug');
    expect(brief(r)).toEqual([]);
    expect(r.ops.failed).toBeGreaterThan(0);
    expect(r.recoveries.replugs).toBeGreaterThan(0);
  });
});

describe('UAS seeded schedules (bounded share of the soak)', () => {
  const n = Number(process.env.ADV_SCHEDULES ?? 300);
  const seed = Number(process.env.ADV_SEED ?? 20261201);
  it(`${n} UAS schedules of seed ${seed}: no HANG, CORRUPT, CRASH, STUCK, STRAY-WRITE, LEAK or GONE`, async () => {
    const t = emptyTotals();
    const t0 = Date.now();
    for (let i = 0; i < n; i++) add(t, await runSchedule(makeSchedule(seed, i, 'test', 'uas')));
    console.log(report(t, Date.now() - t0));
    expect(violationCount(t), report(t)).toBe(0);
    expect(Object.keys(t.faults).length).toBeGreaterThan(30);
  }, 300_000);
});
