/**
 * `usbms tune`: find the fastest number of bytes per command the device handles correctly. Read-only: it reads a
 * region with small READs (64 KiB, what Windows sends) as the reference, then again at each size of a ramp
 * (64 KiB .. 16 MiB, capped by the quirks and the disk), timing each size and comparing its data with the
 * reference. The first size that fails (error, timeout, different data) ends the ramp: the engine has already run
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
 * Each size moves at least this much, in at least MIN_COMMANDS commands, so that a figure is not a few commands'
 * noise: with 4 MiB and 2 commands, the lab's gadget answered 8 MiB in one run and 1 MiB in the next.
 */
const BYTES_PER_SIZE = 16 * MiB;
const MIN_COMMANDS = 6;
/** A size this close to the fastest is as good: the smaller command is kept (less memory, shorter latency). */
const GOOD_ENOUGH = 0.03;

export interface TuneSize {
  bytes: number;
  ok: boolean;
  commands: number;
  msPerCommand?: number;
  mbPerSecond?: number;
  /** Why the size is not safe: the error, or 'data differs from the small READs at LBA n'. */
  error?: string;
}

export interface TuneResult {
  /** The fastest safe size (bytes per command), or the first size of the ramp when none was faster. */
  maxTransferBytes: number;
  sizes: TuneSize[];
  /** The ceiling the ramp could go to (engine, quirks and --max-transfer). */
  ceiling: number;
  referenceBytes: number;
}

/** What the ramp needs of a disk. */
export type TunableDisk = Pick<Disk, 'blockSize' | 'capacityBytes' | 'maxTransferBytes' | 'read'>;

/** Run the ramp on an open disk (read-only). Throws only when the device does not answer after a failed size. */
export async function tuneDisk(disk: TunableDisk, ramp: readonly number[] = TUNE_RAMP): Promise<TuneResult> {
  const bs = disk.blockSize;
  const capacity = Number(disk.capacityBytes > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : disk.capacityBytes);
  const ceiling = Math.min(disk.maxTransferBytes, MAX_TRANSFER_LIMIT);
  const sizes = ramp.filter((s) => s % bs === 0 && s <= ceiling && s <= capacity);
  if (sizes.length === 0) {
    const one = Math.max(bs, Math.floor(Math.min(ceiling, capacity) / bs) * bs);
    sizes.push(one);
  }
  const commandsFor = (size: number): number => Math.max(MIN_COMMANDS, Math.ceil(BYTES_PER_SIZE / size));
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
  const results: TuneSize[] = [];
  for (const size of sizes) {
    const slots = Math.floor(regionBytes / size); // READs of this size the region holds, end to end
    if (slots < 1) break;
    const commands = commandsFor(size);
    const r: TuneSize = { bytes: size, ok: false, commands };
    results.push(r);
    let seconds = 0;
    try {
      for (let i = 0; i < commands; i++) {
        const off = (i % slots) * size;
        const view = buf.subarray(0, size);
        view.fill(0xa5);
        const t0 = process.hrtime.bigint();
        await disk.read(BigInt(off / bs), size / bs, view);
        seconds += Number(process.hrtime.bigint() - t0) / 1e9;
        const bad = firstDifference(view, reference.subarray(off, off + size));
        if (bad >= 0) throw new DiskError('bad-response', `data differs from the small READs at LBA ${(off + bad - (bad % bs)) / bs}`);
      }
    } catch (e) {
      r.error = e instanceof Error ? e.message : String(e);
      // The engine recovered (Reset Recovery) before the error reached us; the device must answer a small READ now.
      await disk.read(0n, 1, buf.subarray(0, bs));
      break;
    }
    r.ok = true;
    r.msPerCommand = (seconds * 1000) / commands;
    r.mbPerSecond = (size * commands) / seconds / 1e6;
  }
  return { maxTransferBytes: pick(results) ?? sizes[0] ?? bs, sizes: results, ceiling, referenceBytes: regionBytes };
}

/** Index of the first differing byte, or -1. */
function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : Math.min(a.length, b.length);
}

/** The smallest safe size within GOOD_ENOUGH of the fastest safe size. */
export function pick(sizes: readonly TuneSize[]): number | undefined {
  const ok = sizes.filter((s) => s.ok && s.mbPerSecond !== undefined);
  if (ok.length === 0) return undefined;
  const best = Math.max(...ok.map((s) => s.mbPerSecond ?? 0));
  return ok.find((s) => (s.mbPerSecond ?? 0) >= best * (1 - GOOD_ENOUGH))?.bytes;
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
        ? `${(s.mbPerSecond ?? 0).toFixed(1).padStart(7)} MB/s  ${(s.msPerCommand ?? 0).toFixed(2).padStart(8)} ms/command`
        : `failed: ${s.error ?? 'unknown'}`}`);
    }
    out(`fastest safe size: ${r.maxTransferBytes} bytes per command (${formatBytes(r.maxTransferBytes)}); ` +
      `use --max-transfer ${r.maxTransferBytes}`);
  });
}

export function registerTuneCommand<T>(y: Argv<T>): Argv<T> {
  return y.command('tune', 'find the fastest safe bytes per command (read-only ramp of READ sizes)', (b) => withExamples(b, 'tune'),
    (a) => run(() => tuneCmd(a as unknown as GlobalArgs)));
}
