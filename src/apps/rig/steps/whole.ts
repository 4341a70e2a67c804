/**
 * Whole-device write and verify with address-and-seed stamped blocks (src/apps/rig/stamp.ts): every block carries its
 * own LBA and the run's seed, so a verify tells apart a block that is unreadable, one that holds another block's
 * data (the addresses wrap: counterfeit capacity), and one that holds stale data (an earlier seed: the write
 * never reached the flash).
 */
import { defaultChunkBlocks, isDiskError, type Disk } from '../../../disk/index.js';
import { stampBlocks, stampOf } from '../stamp.js';

export interface Range { first: bigint; count: bigint }

export interface WriteFigures { bytes: number; seconds: number; writeErrors: number }

export interface VerifyFigures {
  bytes: number;
  seconds: number;
  /** Blocks that could not be read. */
  unreadable: number;
  /** Blocks that read back something other than their own stamp. */
  miscompare: number;
  /** Blocks that read back another block's stamp (wrap-around). */
  aliased: number;
  firstBad: bigint | null;
  /** The LBA whose stamp the first aliased block showed. */
  firstAliasOf: bigint | null;
}

const bad = (e: unknown): boolean => isDiskError(e, 'medium') || isDiskError(e, 'hardware');

/** The range a write/verify covers: the whole device, or its first `limitMiB`. */
export function testRange(d: Disk, limitMiB: number | undefined): Range {
  if (limitMiB === undefined) return { first: 0n, count: d.blocks };
  const want = BigInt(Math.floor((limitMiB * 1024 * 1024) / d.blockSize));
  return { first: 0n, count: want < d.blocks ? want : d.blocks };
}

/** Blocks per command of a step: its `chunkKiB`, or what the device takes per command (as the streams do). */
export function chunkOf(d: Disk, kib: number | undefined): number {
  if (kib === undefined) return defaultChunkBlocks(d);
  return Math.max(1, Math.floor((kib * 1024) / d.blockSize));
}

type Progress = (doneBlocks: bigint) => void;

export async function writeStamps(d: Disk, r: Range, seed: bigint, per: number, progress?: Progress): Promise<WriteFigures> {
  const bs = d.blockSize;
  const buf = Buffer.alloc(per * bs);
  const end = r.first + r.count;
  let writeErrors = 0;
  const t0 = process.hrtime.bigint();
  for (let lba = r.first; lba < end;) {
    const n = Number(end - lba < BigInt(per) ? end - lba : BigInt(per));
    const view = buf.subarray(0, n * bs);
    stampBlocks(view, lba, bs, seed);
    try {
      await d.write(lba, view);
    } catch (e) {
      if (!bad(e)) throw e;
      // Find the blocks that refuse the write, one by one.
      for (let i = 0; i < n; i++) {
        await d.write(lba + BigInt(i), view.subarray(i * bs, (i + 1) * bs)).catch((e2: unknown) => {
          if (!bad(e2)) throw e2;
          writeErrors += 1;
        });
      }
    }
    lba += BigInt(n);
    progress?.(lba - r.first);
  }
  await d.synchronizeCache();
  return { bytes: Number(r.count) * bs, seconds: Number(process.hrtime.bigint() - t0) / 1e9, writeErrors };
}

export async function verifyStamps(d: Disk, r: Range, seed: bigint, per: number, progress?: Progress): Promise<VerifyFigures> {
  const bs = d.blockSize;
  const buf = Buffer.alloc(per * bs);
  const end = r.first + r.count;
  const f: VerifyFigures = { bytes: Number(r.count) * bs, seconds: 0, unreadable: 0, miscompare: 0, aliased: 0,
    firstBad: null, firstAliasOf: null };
  const noteBad = (lba: bigint): void => { if (f.firstBad === null || lba < f.firstBad) f.firstBad = lba; };
  const check = (block: Buffer, lba: bigint): void => {
    const found = stampOf(block, seed);
    if (found === lba) return;
    f.miscompare += 1;
    noteBad(lba);
    if (found !== undefined) {
      f.aliased += 1;
      if (f.firstAliasOf === null) f.firstAliasOf = found;
    }
  };
  const t0 = process.hrtime.bigint();
  for (let lba = r.first; lba < end;) {
    const n = Number(end - lba < BigInt(per) ? end - lba : BigInt(per));
    const view = buf.subarray(0, n * bs);
    let whole = true;
    try {
      await d.read(lba, n, view);
    } catch (e) {
      if (!bad(e)) throw e;
      whole = false;
    }
    for (let i = 0; i < n; i++) {
      const at = lba + BigInt(i);
      const block = view.subarray(i * bs, (i + 1) * bs);
      if (!whole) {
        try {
          await d.read(at, 1, block);
        } catch (e) {
          if (!bad(e)) throw e;
          f.unreadable += 1;
          noteBad(at);
          continue;
        }
      }
      check(block, at);
    }
    lba += BigInt(n);
    progress?.(lba - r.first);
  }
  f.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return f;
}
