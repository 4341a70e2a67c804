/** The steps that write: backup/restore of the original data, counterfeit probe, write/verify, power cycle. */
import { probeDisk } from '../counterfeit.js';
import { EXIT } from '../verdict.js';
import { below, disk, mbps, round, verdict, type Figures, type StepOutcome, type StepRunner } from './context.js';
import { chunkOf, testRange, verifyStamps, writeStamps, type VerifyFigures } from './whole.js';

export const backup: StepRunner = async (ctx) => {
  if (!ctx.restore) return { status: 'skip', figures: {}, reason: 'restore not asked (--restore or "restore": true)' };
  if (ctx.backup.saved) return { status: 'pass', figures: { where: ctx.backup.where }, reason: 'saved by an earlier run' };
  const d = disk(ctx);
  const r = await ctx.backup.save(d, chunkOf(d, ctx.step.params.chunkKiB));
  return { status: 'pass', figures: { bytes: r.bytes, seconds: round(r.seconds, 3), where: r.where } };
};

export const restore: StepRunner = async (ctx) => {
  if (!ctx.restore) return { status: 'skip', figures: {}, reason: 'restore not asked (--restore or "restore": true)' };
  if (!ctx.backup.saved) return { status: 'fail', figures: {}, reason: 'no backup was made', exitCode: EXIT.FILE_ERROR };
  const d = disk(ctx);
  const r = await ctx.backup.restore(d, chunkOf(d, ctx.step.params.chunkKiB));
  const figures = { bytes: r.bytes, seconds: round(r.seconds, 3), mismatchedBlocks: r.mismatched };
  if (r.mismatched > 0) {
    return { status: 'fail', figures, reason: `${r.mismatched} blocks did not read back as restored (backup kept in ` +
      `${ctx.backup.where})`, exitCode: EXIT.MISCOMPARE };
  }
  await ctx.backup.discard();
  return { status: 'pass', figures };
};

export const counterfeit: StepRunner = async (ctx) => {
  const p = ctx.step.params;
  const resetType = p.resetType ?? 'port';
  const r = await probeDisk(disk(ctx), {
    seed: p.seed ?? ctx.seed, random: p.random ?? 16, resetType,
    reset: (d) => (resetType === 'none' ? Promise.resolve(d) : ctx.handle.reset(resetType, p.offMs)),
    warn: (m) => { ctx.warn(m); },
  });
  const figures: Figures = { claimedBlocks: Number(r.claimedBlocks), usableBlocks: Number(r.usableBlocks),
    testedBlocks: r.testedBlocks, failedBlocks: r.failed.length, wrapsAt: r.wrapsAt === null ? null : Number(r.wrapsAt),
    wrapsTo: r.wrapsTo === null ? null : Number(r.wrapsTo), resetType };
  if (r.genuine) return { status: 'pass', figures };
  return { status: 'fail', figures, exitCode: EXIT.MISCOMPARE,
    reason: `counterfeit or damaged: usable ${r.usableBlocks} of ${r.claimedBlocks} claimed blocks` +
      (r.wrapsAt === null ? '' : `; LBA ${r.wrapsAt} reads back the data of LBA ${r.wrapsTo}`) };
};

/** Figures and verdict of one write + verify (write-verify, and each endurance cycle). */
export function wholeVerdict(write: { bytes: number; seconds: number; writeErrors: number }, v: VerifyFigures,
  t: { maxBadBlocks?: number; minWriteMBps?: number; minMBps?: number }): StepOutcome {
  const badBlocks = v.unreadable + v.miscompare + write.writeErrors;
  const writeRate = mbps(write.bytes, write.seconds);
  const readRate = mbps(v.bytes, v.seconds);
  const figures: Figures = { bytes: write.bytes, writeMBps: round(writeRate), readMBps: round(readRate),
    writeErrors: write.writeErrors, unreadable: v.unreadable, miscompare: v.miscompare, aliased: v.aliased,
    badBlocks, firstBad: v.firstBad === null ? null : Number(v.firstBad),
    firstAliasOf: v.firstAliasOf === null ? null : Number(v.firstAliasOf) };
  const max = t.maxBadBlocks ?? 0;
  if (badBlocks > max) {
    const kind = v.aliased > 0 ? 'the addresses wrap (counterfeit capacity)' : v.miscompare > 0 ? 'data did not verify' : 'unreadable blocks';
    return { status: 'fail', figures, reason: `${badBlocks} bad blocks (maximum ${max}): ${kind}, first at LBA ${v.firstBad}`,
      exitCode: v.miscompare > 0 ? EXIT.MISCOMPARE : EXIT.MEDIUM_HARD };
  }
  return verdict(figures, [below(writeRate, t.minWriteMBps, 'write', 'MB/s'), below(readRate, t.minMBps, 'read', 'MB/s')]);
}

export const writeVerify: StepRunner = async (ctx) => {
  const d = disk(ctx);
  const p = ctx.step.params;
  const range = testRange(d, p.limitMiB);
  const per = chunkOf(d, p.chunkKiB);
  const seed = BigInt(p.seed ?? ctx.seed);
  const w = await writeStamps(d, range, seed, per);
  const v = await verifyStamps(d, range, seed, per);
  return wholeVerdict(w, v, ctx.step.thresholds);
};

export const powerCycle: StepRunner = async (ctx) => {
  if (!ctx.handle.canPowerCycle) {
    return { status: 'skip', figures: {}, reason: ctx.handle.noPowerReason };
  }
  const t0 = Date.now();
  await ctx.handle.powerCycle(ctx.step.params.offMs ?? 1000);
  return { status: 'pass', figures: { seconds: round((Date.now() - t0) / 1000, 3) } };
};
