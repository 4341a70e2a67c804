/**
 * The adversarial device against the whole stack (openUsbms on the adversary's port): the oracle's self-test,
 * one regression test per lie, the concurrency cases, and a bounded share of the seeded schedules (the soak
 * runs many more: `npm run soak`). A schedule that fails names itself SEED:INDEX; replay it with
 * `SOAK_ONLY=SEED:INDEX npm run soak`.
 */
import { describe, expect, it } from 'vitest';
import { ALL_FAULT_KINDS, type FaultKind } from './faults.js';
import { runSchedule, type ScheduleResult } from './run.js';
import { makeSchedule } from './schedule.js';
import { add, emptyTotals, report, violationCount } from './stats.js';
import { schedule, targeted } from './targeted.js';

const brief = (r: ScheduleResult): string[] => r.violations.map((v) => `${v.cls} ${v.detail.split('\n')[0]}`);

describe('the oracle can fail (self-test with lies that break the adversary\'s own rule)', () => {
  const steps = [
    { ops: [{ k: 'write' as const, lun: 0, lba: 0, blocks: 8, id: 1 }] },
    { ops: [{ k: 'read' as const, lun: 0, lba: 0, blocks: 8 }] },
  ];
  it('a READ corrupted while it reports GOOD is CORRUPT', async () => {
    const r = await runSchedule(schedule('self:corrupt', steps), (d) => { d.sabotage.silentCorruption = true; });
    expect(r.violations.map((v) => v.cls)).toContain('CORRUPT');
  });
  it('a write that also lands on the next block is STRAY-WRITE', async () => {
    const r = await runSchedule(schedule('self:stray', steps), (d) => { d.sabotage.strayWrite = true; });
    expect(r.violations.map((v) => v.cls)).toContain('STRAY-WRITE');
  });
  it('a timer the device leaves behind is a LEAK', async () => {
    let dev: { clearSabotage(): void } | undefined;
    const r = await runSchedule(schedule('self:leak', steps), (d) => { dev = d; d.sabotage.leakTimer = true; });
    dev?.clearSabotage();
    expect(r.violations.map((v) => v.cls)).toContain('LEAK');
  });
  it('a Mass Storage Reset that never answers, timeout or not, is a HANG', async () => {
    const s = { ...schedule('self:hang', [{ ...steps[1]!, arm: { commands: ['csw-phase-error' as const] } }]), opBoundMs: 400 };
    const r = await runSchedule(s, (d) => { d.sabotage.controlNeverAnswers = true; });
    expect(r.violations.map((v) => v.cls)).toContain('HANG');
  });
  it('a device that never answers once the faults stop is STUCK', async () => {
    const r = await runSchedule(schedule('self:stuck', steps), (d) => { d.sabotage.deadAfterFaults = true; });
    expect(r.violations.map((v) => v.cls)).toContain('STUCK');
  });
});

describe('every lie, one at a time: the stack survives it with no violation', () => {
  it.each(ALL_FAULT_KINDS.map((k) => [k]))('%s', async (kind: FaultKind) => {
    const { schedule: s, armBeforeOpen } = targeted(kind);
    const r = await runSchedule(s, (d) => { if (armBeforeOpen !== undefined) d.armControl(armBeforeOpen); });
    expect(r.faults[kind] ?? 0, `the lie ${kind} was told`).toBeGreaterThan(0);
    expect(brief(r)).toEqual([]);
  });
});

describe('concurrency: many callers, two LUNs, FLAG_HEAD, abort, reset, close, hot unplug', () => {
  const crowd = (id: number): { k: 'read' | 'write' | 'pkt-read'; lun: number; lba: number; blocks: number; id: number; head: boolean }[] =>
    Array.from({ length: 8 }, (_, i) => ({
      k: (['read', 'write', 'pkt-read'] as const)[i % 3]!, lun: i % 2, lba: 8 * i, blocks: 6 + i, id: id + i, head: i % 4 === 2,
    }));
  const run = async (name: string, disrupt?: 'abort-all' | 'abort-one' | 'reset-lun' | 'reset-target' | 'reset-bus' | 'close' | 'unplug'): Promise<ScheduleResult> => {
    const s = schedule(`concurrency:${name}`, [
      { ops: crowd(100), ...(disrupt === undefined ? {} : { disrupt: { k: disrupt, lun: 1, afterTicks: 3 } }) },
      { ops: crowd(200) },
    ], { lunBlocks: [128, 128] });
    return runSchedule(s);
  };
  it('eight callers across two LUNs, some FLAG_HEAD packets, all complete and read back right', async () => {
    const r = await run('crowd');
    expect(brief(r)).toEqual([]);
    expect(r.ops.failed).toBe(0);
    expect(r.ops.ok).toBe(16);
  });
  it.each([['abort-all'], ['abort-one'], ['reset-lun'], ['reset-target'], ['reset-bus'], ['close']] as const)(
    '%s with packets queued on both LUNs', async (d) => {
      const r = await run(d, d);
      expect(brief(r)).toEqual([]);
    });
  it('hot unplug with everything in flight: each op completes device-gone (CMD_DEV_GONE / DiskGoneError), then a re-plug works', async () => {
    const r = await run('unplug', 'unplug');
    expect(brief(r)).toEqual([]);
    expect(r.ops.failed, 'operations were in flight at the unplug').toBeGreaterThan(0);
    expect(r.recoveries.replugs).toBeGreaterThan(0);
  });
});

describe('seeded schedules (bounded share of the soak)', () => {
  const n = Number(process.env.ADV_SCHEDULES ?? 300);
  const seed = Number(process.env.ADV_SEED ?? 20261201);
  it(`${n} schedules of seed ${seed}: no HANG, CORRUPT, CRASH, STUCK, STRAY-WRITE, LEAK or GONE`, async () => {
    const t = emptyTotals();
    const t0 = Date.now();
    for (let i = 0; i < n; i++) add(t, await runSchedule(makeSchedule(seed, i, 'test')));
    console.log(report(t, Date.now() - t0));
    expect(violationCount(t), report(t)).toBe(0);
    expect(Object.keys(t.faults).length).toBeGreaterThan(40);
  }, 120_000);
});
