/**
 * Throughput steps: sequential read/write (MB/s) and random 4 KiB read/write (IOPS), with thresholds in the
 * spirit of the SD Association application performance classes (A1: 1500 read / 500 write IOPS at 4 KiB;
 * A2: 4000 / 2000).
 */
import { stampBlocks } from '../stamp.js';
import { chunkOf } from './whole.js';
import { below, disk, lcg, mbps, round, since, verdict, type StepContext, type StepOutcome, type StepRunner } from './context.js';

const CLASS_IOPS = { A1: { read: 1500, write: 500 }, A2: { read: 4000, write: 2000 } } as const;

async function sequential(ctx: StepContext, op: 'read' | 'write'): Promise<StepOutcome> {
  const d = disk(ctx);
  const { sizeMiB = 16, chunkKiB } = ctx.step.params;
  const per = chunkOf(d, chunkKiB);
  const want = BigInt(Math.floor((sizeMiB * 1024 * 1024) / d.blockSize));
  const total = want > d.blocks ? d.blocks : want;
  const buf = Buffer.alloc(per * d.blockSize);
  const seed = BigInt(ctx.step.params.seed ?? ctx.seed);
  const t0 = process.hrtime.bigint();
  for (let lba = 0n; lba < total;) {
    const n = Number(total - lba < BigInt(per) ? total - lba : BigInt(per));
    const view = buf.subarray(0, n * d.blockSize);
    if (op === 'read') await d.read(lba, n, view);
    else { stampBlocks(view, lba, d.blockSize, seed); await d.write(lba, view); }
    lba += BigInt(n);
  }
  if (op === 'write') await d.synchronizeCache();
  const seconds = since(t0);
  const bytes = Number(total) * d.blockSize;
  const rate = mbps(bytes, seconds);
  return verdict({ bytes, chunkBytes: per * d.blockSize, seconds: round(seconds, 3), mbPerSecond: round(rate) },
    [below(rate, ctx.step.thresholds.minMBps, `sequential ${op}`, 'MB/s')]);
}

async function random(ctx: StepContext, op: 'read' | 'write'): Promise<StepOutcome> {
  const d = disk(ctx);
  const { ios = 256, ioKiB = 4 } = ctx.step.params;
  const per = Math.max(1, Math.floor((ioKiB * 1024) / d.blockSize));
  const span = d.blocks - BigInt(per) + 1n;
  const seed = ctx.step.params.seed ?? ctx.seed;
  const next = lcg(seed);
  const buf = Buffer.alloc(per * d.blockSize);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ios; i++) {
    // Aligned to the I/O size, as the SD A1/A2 test pattern is.
    const lba = ((next() % span) / BigInt(per)) * BigInt(per);
    if (op === 'read') await d.read(lba, per, buf);
    else { stampBlocks(buf, lba, d.blockSize, BigInt(seed)); await d.write(lba, buf); }
  }
  if (op === 'write') await d.synchronizeCache();
  const seconds = since(t0);
  const iops = seconds > 0 ? ios / seconds : Number.POSITIVE_INFINITY;
  const t = ctx.step.thresholds;
  const min = t.minIops ?? (t.class === undefined ? undefined : CLASS_IOPS[t.class][op]);
  return verdict({ ios, ioBytes: per * d.blockSize, seconds: round(seconds, 3), iops: round(iops, 0),
    ...(t.class === undefined ? {} : { class: t.class }) },
  [below(iops, min, `random ${op}${t.class === undefined ? '' : ` (class ${t.class})`}`, 'IOPS')]);
}

export const sequentialRead: StepRunner = (ctx) => sequential(ctx, 'read');
export const sequentialWrite: StepRunner = (ctx) => sequential(ctx, 'write');
export const randomRead: StepRunner = (ctx) => random(ctx, 'read');
export const randomWrite: StepRunner = (ctx) => random(ctx, 'write');
