/**
 * `usbms probe`: an f3probe-style check for counterfeit flash that claims more capacity than it has.
 *
 * Chosen blocks (the first, powers of two, the last, and a few seeded random ones) are saved, stamped with
 * their own LBA and a seed, read back, then restored. A block that reads back another block's stamp means the
 * addresses wrap (writes beyond the real size land on lower blocks); a block whose stamp is missing or
 * unreadable means the capacity there is not real. The usable size is the lowest failing block.
 */
import type { Argv } from 'yargs';
import { isDiskError, type Disk } from '../../disk/index.js';
import { EXIT } from '../exit.js';
import { formatBytes } from '../format.js';
import {
  info, out, parseCount, printJson, requireMedium, requireWrite, run, withDisk, type GlobalArgs,
} from '../context.js';

const MAGIC = 0x5553424d53505242n; // "USBMSPRB"

/** LBAs to test: 0, 2^k, 2^k - 1, the last, and `random` seeded ones, sorted and unique. */
export function probeLbas(blocks: bigint, seed: number, random: number): bigint[] {
  const set = new Set<bigint>([0n, blocks - 1n]);
  for (let p = 1n; p < blocks; p *= 2n) { set.add(p); set.add(p - 1n); }
  let x = BigInt(seed) | 1n;
  for (let i = 0; i < random; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffff_ffff_ffff_ffffn;
    set.add(x % blocks);
  }
  return [...set].filter((l) => l >= 0n && l < blocks).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function stamp(into: Buffer, lba: bigint, seed: bigint): void {
  for (let off = 0; off + 24 <= into.length; off += 24) {
    into.writeBigUInt64BE(MAGIC, off);
    into.writeBigUInt64BE(lba, off + 8);
    into.writeBigUInt64BE(seed, off + 16);
  }
}

/** The LBA a block's stamp names, or undefined when it carries no (intact) stamp of this run. */
function stampOf(block: Buffer, seed: bigint): bigint | undefined {
  if (block.readBigUInt64BE(0) !== MAGIC || block.readBigUInt64BE(16) !== seed) return undefined;
  const lba = block.readBigUInt64BE(8);
  for (let off = 24; off + 24 <= block.length; off += 24) {
    if (block.readBigUInt64BE(off) !== MAGIC || block.readBigUInt64BE(off + 8) !== lba) return undefined;
  }
  return lba;
}

export interface ProbeResult {
  claimedBlocks: bigint;
  blockSize: number;
  testedBlocks: number;
  /** Blocks that verified, counted up to the first failure. */
  usableBlocks: bigint;
  /** LBA that read back a lower block's stamp (address wrap-around), if any. */
  wrapsAt: bigint | null;
  /** The lower LBA whose stamp showed up there. */
  wrapsTo: bigint | null;
  failed: bigint[];
  genuine: boolean;
}

const unreadable = (e: unknown): boolean => isDiskError(e, 'medium') || isDiskError(e, 'hardware');

export async function probeDisk(disk: Disk, seed: number, random: number): Promise<ProbeResult> {
  const bs = disk.blockSize;
  const all = probeLbas(disk.blocks, seed, random);
  const saved = Buffer.allocUnsafe(all.length * bs);
  const seedBig = BigInt(seed);
  const failed = new Set<bigint>();
  // Save what is there first. A block that cannot even be read is missing capacity (a "limbo" drive answers
  // MEDIUM ERROR past its real size): it is counted as failed and neither stamped nor restored.
  const lbas: bigint[] = [];
  for (const lba of all) {
    try {
      await disk.read(lba, 1, saved.subarray(lbas.length * bs, (lbas.length + 1) * bs));
      lbas.push(lba);
    } catch (e) {
      if (!unreadable(e)) throw e;
      failed.add(lba);
    }
  }
  const sharing = new Map<bigint, bigint[]>();
  let wrapsAt: bigint | null = null;
  let wrapsTo: bigint | null = null;
  const block = Buffer.allocUnsafe(bs);
  try {
    // Ascending: on a wrapping drive a higher block's stamp lands on (and replaces) the real block it aliases.
    for (const lba of lbas) { stamp(block, lba, seedBig); await disk.write(lba, block); }
    await disk.synchronizeCache();
    for (const lba of lbas) {
      let found: bigint | undefined;
      try {
        found = stampOf(await disk.read(lba, 1, block), seedBig);
      } catch (e) {
        if (!unreadable(e)) throw e;
      }
      if (found === lba) continue;
      if (found === undefined) { failed.add(lba); continue; }
      const group = sharing.get(found) ?? [found];
      group.push(lba);
      sharing.set(found, group);
    }
    // LBAs that read back the same stamp share one cell: the lowest of them is real, the others do not exist.
    for (const group of sharing.values()) {
      const low = group.reduce((a, b) => (b < a ? b : a));
      for (const lba of group) {
        if (lba === low) continue;
        failed.add(lba);
        if (wrapsAt === null || lba < wrapsAt) { wrapsAt = lba; wrapsTo = low; }
      }
    }
  } finally {
    // Put the user's data back whatever happened above. Highest LBA first: on a wrapping drive a high block aliases
    // a low one, so the low (real) blocks must be written last to end up with their own data.
    for (let i = lbas.length - 1; i >= 0; i--) {
      const lba = lbas[i]!;
      await disk.write(lba, saved.subarray(i * bs, (i + 1) * bs)).catch((e: unknown) => {
        info(`usbms: could not restore LBA ${lba}: ${(e as Error).message}`);
      });
    }
    await disk.synchronizeCache().catch(() => undefined);
  }
  const bad = [...failed].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { claimedBlocks: disk.blocks, blockSize: bs, testedBlocks: all.length,
    usableBlocks: bad[0] ?? disk.blocks, wrapsAt, wrapsTo, failed: bad, genuine: bad.length === 0 };
}

interface ProbeArgs extends GlobalArgs { write: boolean; seed?: number | undefined; random: number }

async function probeCmd(a: ProbeArgs): Promise<number> {
  requireWrite(a.write, 'probe (it stamps blocks, then restores them)');
  const seed = a.seed === undefined ? Date.now() & 0x7fffffff : parseCount(a.seed, '--seed', 1);
  const random = a.random === 0 ? 0 : parseCount(a.random, '--random', 16);
  return withDisk(a, { allowWrite: true }, async (disk) => {
    requireMedium(disk);
    const r = await probeDisk(disk, seed, random);
    if (a.json) printJson({ ...r, seed });
    else {
      out(`claimed: ${r.claimedBlocks} blocks (${formatBytes(r.claimedBlocks * BigInt(r.blockSize))}), ` +
        `tested ${r.testedBlocks} blocks, seed ${seed}`);
      if (r.genuine) out('result: every tested block kept its own data: the capacity looks genuine');
      else {
        out(`result: COUNTERFEIT or damaged: usable ${r.usableBlocks} blocks ` +
          `(${formatBytes(r.usableBlocks * BigInt(r.blockSize))}); ${r.failed.length} tested blocks failed`);
        if (r.wrapsAt !== null) out(`wrap-around: LBA ${r.wrapsAt} reads back the data of LBA ${r.wrapsTo}`);
      }
    }
    return r.genuine ? EXIT.OK : EXIT.MISCOMPARE;
  });
}

export function registerProbeCommand<T>(y: Argv<T>): Argv<T> {
  return y.command('probe', 'check for fake capacity (f3probe-style); restores the data; needs --write', (b) => b
    .option('write', { type: 'boolean', default: false, describe: 'confirm that blocks are stamped (and restored)' })
    .option('seed', { type: 'number', describe: 'stamp seed (default: from the clock)' })
    .option('random', { type: 'number', default: 16, describe: 'extra random blocks to test' }),
  (a) => run(() => probeCmd(a as unknown as ProbeArgs)));
}
