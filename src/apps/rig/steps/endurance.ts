/**
 * Endurance: N whole-range write/verify cycles, each with its own seed (run seed + cycle), with a power cycle
 * and a cool-down between writing and reading back when asked. The journal records each finished phase, so a
 * stopped run goes on where it was: a cycle whose stamps were written is read back (after its power cycle and
 * cool-down), not written again.
 */
import { sleep } from '../../../util/sleep.js';
import type { EnduranceState } from '../journal.js';
import { EXIT } from '../verdict.js';
import { wholeVerdict } from './destructive.js';
import { disk, mbps, round, type StepRunner } from './context.js';
import { chunkOf, testRange, verifyStamps, writeStamps, type WriteFigures } from './whole.js';

export const endurance: StepRunner = async (ctx) => {
  const p = ctx.step.params;
  const cycles = p.cycles ?? 3;
  if (p.powerCycle === true && !ctx.handle.canPowerCycle) {
    return { status: 'skip', figures: {}, reason: `powerCycle asked, but ${ctx.handle.noPowerReason}`,
      exitCode: EXIT.OK };
  }
  const state: EnduranceState = ctx.journal?.data.endurance[ctx.step.name] ?? { cycle: 1, written: false, done: [] };
  const save = (): void => {
    if (ctx.journal === undefined) return;
    ctx.journal.data.endurance[ctx.step.name] = state;
    ctx.journal.save();
  };
  let totalBad = 0;
  let worstWrite = Number.POSITIVE_INFINITY;
  let worstRead = Number.POSITIVE_INFINITY;
  for (const c of state.done) { totalBad += c.badBlocks; worstWrite = Math.min(worstWrite, c.writeMBps); worstRead = Math.min(worstRead, c.readMBps); }
  const resumedAt = state.cycle;
  while (state.cycle <= cycles) {
    const seed = BigInt((p.seed ?? ctx.seed) + state.cycle);
    let d = disk(ctx);
    const range = testRange(d, p.limitMiB);
    const per = chunkOf(d, p.chunkKiB);
    let w: WriteFigures = { bytes: Number(range.count) * d.blockSize, seconds: 0, writeErrors: 0 };
    if (!state.written) {
      w = await writeStamps(d, range, seed, per);
      state.written = true;
      save();
      ctx.progress({ cycle: state.cycle, phase: 'written', writeMBps: round(mbps(w.bytes, w.seconds)) });
    }
    if (p.powerCycle === true) {
      d = await ctx.handle.powerCycle(p.offMs ?? 1000);
      ctx.progress({ cycle: state.cycle, phase: 'power-cycled' });
    }
    if ((p.coolDownS ?? 0) > 0) await sleep((p.coolDownS ?? 0) * 1000);
    const v = await verifyStamps(d, range, seed, per);
    const one = wholeVerdict(w, v, {});
    const bad = Number(one.figures.badBlocks ?? 0);
    const cycle = { cycle: state.cycle, writeMBps: Number(one.figures.writeMBps), readMBps: Number(one.figures.readMBps), badBlocks: bad };
    state.done.push(cycle);
    state.written = false;
    totalBad += bad;
    if (w.seconds > 0) worstWrite = Math.min(worstWrite, cycle.writeMBps);
    worstRead = Math.min(worstRead, cycle.readMBps);
    state.cycle += 1;
    save();
    ctx.progress({ ...cycle, phase: 'verified' });
  }
  const t = ctx.step.thresholds;
  const figures = { cycles, cyclesDone: state.done.length, resumedAtCycle: resumedAt, badBlocks: totalBad,
    worstWriteMBps: Number.isFinite(worstWrite) ? worstWrite : null, worstReadMBps: Number.isFinite(worstRead) ? worstRead : null,
    powerCycle: p.powerCycle === true };
  const max = t.maxBadBlocks ?? 0;
  if (totalBad > max) {
    return { status: 'fail', figures, reason: `${totalBad} bad blocks over ${state.done.length} cycles (maximum ${max})`,
      exitCode: EXIT.MISCOMPARE };
  }
  const missed: string[] = [];
  if (t.minWriteMBps !== undefined && Number.isFinite(worstWrite) && worstWrite < t.minWriteMBps) {
    missed.push(`worst write ${worstWrite} MB/s is below the minimum ${t.minWriteMBps} MB/s`);
  }
  if (t.minMBps !== undefined && Number.isFinite(worstRead) && worstRead < t.minMBps) {
    missed.push(`worst read ${worstRead} MB/s is below the minimum ${t.minMBps} MB/s`);
  }
  return missed.length === 0 ? { status: 'pass', figures } : { status: 'fail', figures, reason: missed.join('; '), exitCode: EXIT.OTHER };
};
