/**
 * The counterfeit probe (f3probe-style), cache-proof.
 *
 * Chosen blocks (the first, powers of two and their predecessors, the last, and a few seeded random ones) are
 * saved, stamped with their own LBA and a seed, the device is reset (see ResetType), then the stamps are read
 * back and the blocks restored. A block that reads back another block's stamp means the addresses wrap (writes
 * beyond the real size land on lower blocks); a block whose stamp is missing or unreadable means the capacity
 * there is not real. The usable size is the lowest failing block.
 *
 * Why the reset: a cheap controller keeps the last blocks written in RAM and answers reads of them from there,
 * so without a reset the few stamped blocks read back intact even on a drive that wraps at a quarter of its
 * claimed size. A Bulk-Only reset, a USB port reset or a power cycle empties that RAM.
 */
import { isDiskError, type Disk } from '../../disk/index.js';
import { stampBlocks, stampOf } from './stamp.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';

/** What happens between writing the stamps and reading them back. */
export type ResetType = 'none' | 'bot' | 'port' | 'power';
/** Every {@link ResetType}, for checking user input. */
export const RESET_TYPES: readonly ResetType[] = ['none', 'bot', 'port', 'power'];

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

/** What the counterfeit probe found. */
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
  /** How the device was reset between writing and reading back. */
  resetType: ResetType;
}

/** Options of {@link probeDisk}. */
export interface ProbeOptions {
  seed: number;
  random: number;
  /** Default 'none' here (the caller performs the reset through `reset`). */
  resetType?: ResetType;
  /**
   * Reset the device after the stamps are written (and synchronized); resolves with the disk to read back
   * from: the same one after a BOT or port reset, a newly opened one after a power cycle.
   */
  reset?: (disk: Disk) => Promise<Disk>;
  /** Where restore problems are told (default: dropped). */
  warn?: (message: string) => void;
}

const PROBE_OPTION_KEYS = { seed: true, random: true, resetType: true, reset: true, warn: true } as const satisfies KnownKeys<ProbeOptions>;

const unreadable = (e: unknown): boolean => isDiskError(e, 'medium') || isDiskError(e, 'hardware');
const byLba = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/** Save the blocks that can be read; the unreadable ones are missing capacity (a "limbo" drive). */
async function saveBlocks(disk: Disk, all: bigint[], failed: Set<bigint>): Promise<{ lbas: bigint[]; saved: Buffer }> {
  const bs = disk.blockSize;
  const saved = Buffer.allocUnsafe(all.length * bs);
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
  return { lbas, saved };
}

/** Read the stamps back; a block showing another LBA's stamp joins that LBA's group (they share one cell). */
async function readBack(disk: Disk, lbas: bigint[], seed: bigint, failed: Set<bigint>): Promise<Map<bigint, bigint[]>> {
  const sharing = new Map<bigint, bigint[]>();
  const block = Buffer.allocUnsafe(disk.blockSize);
  for (const lba of lbas) {
    let found: bigint | undefined;
    try {
      found = stampOf(await disk.read(lba, 1, block), seed);
    } catch (e) {
      if (!unreadable(e)) throw e;
    }
    if (found === lba) continue;
    if (found === undefined) { failed.add(lba); continue; }
    const group = sharing.get(found) ?? [found];
    group.push(lba);
    sharing.set(found, group);
  }
  return sharing;
}

/**
 * The cache-proof counterfeit probe on an open, writable disk (see the module comment): stamps the chosen blocks,
 * resets the device through `opts.reset`, reads the stamps back and puts the original data back whatever happens.
 * @param first the disk to probe (the one to go on with after the reset is what `opts.reset` resolves with)
 */
export async function probeDisk(first: Disk, opts: ProbeOptions): Promise<ProbeResult> {
  rejectUnknownKeys(opts, PROBE_OPTION_KEYS, 'probeDisk options');
  let disk = first;
  const bs = disk.blockSize;
  const claimedBlocks = disk.blocks;
  const all = probeLbas(claimedBlocks, opts.seed, opts.random);
  const seed = BigInt(opts.seed);
  const failed = new Set<bigint>();
  const { lbas, saved } = await saveBlocks(disk, all, failed);
  let wrapsAt: bigint | null = null;
  let wrapsTo: bigint | null = null;
  const block = Buffer.allocUnsafe(bs);
  try {
    // Ascending: on a wrapping drive a higher block's stamp lands on (and replaces) the real block it aliases.
    for (const lba of lbas) { stampBlocks(block, lba, bs, seed); await disk.write(lba, block); }
    await disk.synchronizeCache();
    if (opts.reset !== undefined) disk = await opts.reset(disk);
    const sharing = await readBack(disk, lbas, seed, failed);
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
        opts.warn?.(`could not restore LBA ${lba}: ${(e as Error).message}`);
      });
    }
    await disk.synchronizeCache().catch(() => undefined);
  }
  const bad = [...failed].sort(byLba);
  return { claimedBlocks, blockSize: bs, testedBlocks: all.length, usableBlocks: bad[0] ?? claimedBlocks, wrapsAt,
    wrapsTo, failed: bad, genuine: bad.length === 0, resetType: opts.resetType ?? 'none' };
}
