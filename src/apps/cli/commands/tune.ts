/**
 * `usbms tune`: find the fastest number of bytes per command the device handles correctly. Read-only: it reads a
 * region with small READs (64 KiB, what Windows sends) as the reference, then again at each size of a ramp
 * (64 KiB .. 16 MiB, capped by the quirks and the disk), timing each size in rounds until they agree (the median
 * of the last three) and comparing its data with the reference. Sizes within noise of the fastest are equally
 * fast, and the smallest of them is the answer. The first size that fails (error, timeout, different data) ends the ramp: the engine has already run
 * Reset Recovery, a small READ checks that the device answers again, and the sizes below are the safe ones.
 * Pass the answer to any command as --max-transfer N (or `maxTransferBytes` to openUsbms).
 */
import type { Argv } from 'yargs';
import { DiskError, type Disk } from '../../../disk/index.js';
import { CliError } from '../exit.js';
import { withExamples } from '../examples.js';
import { formatBytes } from '../format.js';
import { out, printJson, run, withDisk, type GlobalArgs } from '../context.js';
import { MAX_TRANSFER_LIMIT } from '../../../util/size.js';

const KiB = 1024;
const MiB = 1024 * 1024;
export const TUNE_RAMP: readonly number[] = [64 * KiB, 128 * KiB, 256 * KiB, 512 * KiB, MiB, 2 * MiB, 4 * MiB, 8 * MiB, 16 * MiB];
/**
 * One round of a size moves at least this much, in at least MIN_COMMANDS commands; a size is measured in rounds
 * until MIN_ROUNDS rounds in a row agree within TARGET_SPREAD (or MAX_ROUNDS were run), and its figure is their
 * median. One measurement per size was a few commands' noise: the software disk answered 2 MiB in one run and
 * 4 MiB in the next, with 6,558 MB/s beside 1,967 MB/s, and the lab's gadget 8 MiB in one run and 1 MiB in the next.
 */
const BYTES_PER_ROUND = 8 * MiB;
const MIN_COMMANDS = 4;
const MIN_ROUNDS = 3;
const MAX_ROUNDS = 8;
/** Rounds that agree this closely ((max - min) / median) are a figure, not noise. */
const TARGET_SPREAD = 0.1;
/** Sizes closer than this, or than their own spread, are equally fast: the smaller is kept (less memory, latency). */
const GOOD_ENOUGH = 0.03;

export interface TuneSize {
  bytes: number;
  ok: boolean;
  /** Commands per round. */
  commands: number;
  /** Rounds measured (each `commands` READs). */
  rounds?: number;
  /** Median of the last MIN_ROUNDS rounds, each the median of its commands. */
  msPerCommand?: number;
  mbPerSecond?: number;
  /** (max - min) / median of those rounds' MB/s: 0.04 is 4 %. */
  spread?: number;
  /** Why the size is not safe: the error, or 'data differs from the small READs at LBA n'. */
  error?: string;
}

export interface TuneResult {
  /** The smallest safe size as fast as the fastest within noise (bytes per command), or the ramp's first size. */
  maxTransferBytes: number;
  /** The safe sizes within noise of the fastest (the answer is the smallest of them). */
  equallyFast: number[];
  sizes: TuneSize[];
  /** The ceiling the ramp could go to (engine, quirks and --max-transfer). */
  ceiling: number;
  referenceBytes: number;
}

/** What the ramp needs of a disk. */
export type TunableDisk = Pick<Disk, 'blockSize' | 'capacityBytes' | 'maxTransferBytes' | 'read'>;

export interface TuneOptions {
  /** The sizes to try, in order (default TUNE_RAMP). */
  ramp?: readonly number[];
  /** The clock, in ns (default process.hrtime.bigint; tests pass their own). */
  now?: () => bigint;
}

/** (max - min) / median, and the median, of a few figures. */
function medianSpread(xs: readonly number[]): { median: number; spread: number } {
  const sorted = [...xs].sort((p, q) => p - q);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, spread: median > 0 ? ((sorted.at(-1) ?? 0) - (sorted[0] ?? 0)) / median : Infinity };
}

/** Run the ramp on an open disk (read-only). Throws only when the device does not answer after a failed size. */
export async function tuneDisk(disk: TunableDisk, opts: TuneOptions = {}): Promise<TuneResult> {
  const ramp = opts.ramp ?? TUNE_RAMP;
  const now = opts.now ?? (() => process.hrtime.bigint());
  const bs = disk.blockSize;
  const capacity = Number(disk.capacityBytes > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : disk.capacityBytes);
  const ceiling = Math.min(disk.maxTransferBytes, MAX_TRANSFER_LIMIT);
  const sizes = ramp.filter((s) => s % bs === 0 && s <= ceiling && s <= capacity);
  if (sizes.length === 0) {
    const one = Math.max(bs, Math.floor(Math.min(ceiling, capacity) / bs) * bs);
    sizes.push(one);
  }
  const commandsFor = (size: number): number => Math.max(MIN_COMMANDS, Math.ceil(BYTES_PER_ROUND / size));
  // One region, as large as the largest READ (or the disk), read again and again: every size is checked against
  // the same small READs, and the reference costs one pass over 16 MiB at most.
  const regionBytes = Math.min(Math.floor(capacity / bs) * bs, Math.max(...sizes));
  const refChunk = Math.min(sizes[0] ?? bs, 64 * KiB);
  const reference = Buffer.allocUnsafe(regionBytes);
  for (let off = 0; off < regionBytes; off += refChunk) {
    const n = Math.min(refChunk, regionBytes - off);
    await disk.read(BigInt(off / bs), n / bs, reference.subarray(off, off + n));
  }
  const buf = Buffer.allocUnsafe(Math.max(...sizes));
  /** One round of `size`: `commands` READs spread over the region, each checked; its median command as MB/s. */
  const round = async (size: number, commands: number, n: number): Promise<number> => {
    const slots = Math.floor(regionBytes / size); // READs of this size the region holds, end to end
    const ms = new Array<number>(commands).fill(0);
    for (let i = 0; i < commands; i++) {
      const off = ((n * commands + i) % slots) * size;
      const view = buf.subarray(0, size);
      view.fill(0xa5);
      const t0 = now();
      await disk.read(BigInt(off / bs), size / bs, view);
      ms[i] = Number(now() - t0) / 1e6;
      const bad = firstDifference(view, reference.subarray(off, off + size));
      if (bad >= 0) throw new DiskError('bad-response', `data differs from the small READs at LBA ${(off + bad - (bad % bs)) / bs}`);
    }
    // The median command: a garbage collection or a busy neighbour on the host delays a few commands, which would
    // move a mean far more than it moves what the device does.
    return size / 1e3 / medianSpread(ms).median;
  };
  // The ramp, one round per size, up to the first size that fails: the sizes below it are the safe ones.
  const results: TuneSize[] = [];
  const rates = new Map<TuneSize, number[]>();
  for (const size of sizes) {
    if (regionBytes < size) break;
    const r: TuneSize = { bytes: size, ok: false, commands: commandsFor(size) };
    results.push(r);
    try {
      rates.set(r, [await round(size, r.commands, 0)]);
    } catch (e) {
      r.error = e instanceof Error ? e.message : String(e);
      // The engine recovered (Reset Recovery) before the error reached us; the device must answer a small READ now.
      await disk.read(0n, 1, buf.subarray(0, bs));
      break;
    }
    r.ok = true;
  }
  // Then more rounds of the safe sizes, taking turns, until each size's last rounds agree: whatever else the host
  // does meanwhile slows every size alike, instead of whichever size happened to be measured then.
  const settled = (xs: readonly number[]): boolean => xs.length >= MIN_ROUNDS && medianSpread(xs.slice(-MIN_ROUNDS)).spread <= TARGET_SPREAD;
  for (let n = 1; n < MAX_ROUNDS; n++) {
    const open = [...rates].filter(([, xs]) => !settled(xs));
    if (open.length === 0) break;
    for (const [r, xs] of open) xs.push(await round(r.bytes, r.commands, n));
  }
  for (const [r, xs] of rates) {
    const { median, spread } = medianSpread(xs.slice(-MIN_ROUNDS));
    r.rounds = xs.length;
    r.mbPerSecond = median;
    r.spread = spread;
    r.msPerCommand = (r.bytes / 1e6 / median) * 1000;
  }
  const equallyFast = fastest(results);
  return { maxTransferBytes: equallyFast[0] ?? sizes[0] ?? bs, equallyFast, sizes: results, ceiling, referenceBytes: regionBytes };
}

/** Index of the first differing byte, or -1. */
function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : Math.min(a.length, b.length);
}

/**
 * The safe sizes as fast as the fastest within noise, smallest first: a size is "as fast" when its median is
 * below the fastest median by less than GOOD_ENOUGH or than the larger of the two sizes' spreads.
 */
export function fastest(sizes: readonly TuneSize[]): number[] {
  const ok = sizes.filter((s) => s.ok && s.mbPerSecond !== undefined);
  const best = ok.reduce<TuneSize | undefined>((b, s) => ((s.mbPerSecond ?? 0) > (b?.mbPerSecond ?? -1) ? s : b), undefined);
  if (best === undefined) return [];
  const top = best.mbPerSecond ?? 0;
  return ok.filter((s) => (s.mbPerSecond ?? 0) >= top * (1 - Math.max(GOOD_ENOUGH, best.spread ?? 0, s.spread ?? 0)))
    .map((s) => s.bytes).sort((x, y) => x - y);
}

/** The smallest safe size as fast as the fastest within noise. */
export function pick(sizes: readonly TuneSize[]): number | undefined {
  return fastest(sizes)[0];
}

async function tuneCmd(a: GlobalArgs): Promise<number> {
  // The ramp's ceiling: what the user allows, else the most one command may move; the quirks cap it further.
  const args: GlobalArgs = { ...a, 'max-transfer': a['max-transfer'] ?? String(MAX_TRANSFER_LIMIT) };
  if (args.timeout === undefined) args.timeout = 10; // a device that chokes on a size should not cost 30 s
  return withDisk(args, { retries: 0 }, async (disk) => {
    if (!disk.mediumPresent) throw new CliError(`LUN ${disk.lun}: medium not present`);
    const r = await tuneDisk(disk);
    if (a.json) {
      printJson(r);
      return;
    }
    for (const s of r.sizes) {
      out(`${formatBytes(s.bytes).padStart(10)}  ${s.ok
        ? `${(s.mbPerSecond ?? 0).toFixed(1).padStart(7)} MB/s ±${(((s.spread ?? 0) * 100) / 2).toFixed(1).padStart(4)}%  ` +
          `${(s.msPerCommand ?? 0).toFixed(2).padStart(8)} ms/command  median of ${s.rounds ?? 0} rounds of ${s.commands}`
        : `failed: ${s.error ?? 'unknown'}`}`);
    }
    if (r.equallyFast.length > 1) {
      out(`within noise of each other: ${r.equallyFast.map((b) => formatBytes(b)).join(', ')} (the smallest is kept)`);
    }
    out(`fastest safe size: ${r.maxTransferBytes} bytes per command (${formatBytes(r.maxTransferBytes)}); ` +
      `use --max-transfer ${r.maxTransferBytes}`);
  });
}

export function registerTuneCommand<T>(y: Argv<T>): Argv<T> {
  return y.command('tune', 'find the fastest safe bytes per command (read-only ramp of READ sizes)', (b) => withExamples(b, 'tune'),
    (a) => run(() => tuneCmd(a as unknown as GlobalArgs)));
}
