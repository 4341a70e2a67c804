/**
 * `node build/tools/bench/lab.js --device VID:PID ...`: runs INSIDE the lab guest (hw-tests/lab/bench-guest.sh). Per
 * command size, READ(10) and WRITE(10) through the bare node-usb loop (bare-loop.ts) and through usbms's API
 * (Disk.read / Disk.write with one command per call), taking turns size by size in one process so that the two
 * see the same machine, and prints one JSON document: every round's seconds and the medians in ms per command.
 *
 * Options: --device VID:PID (hex), --sizes 4K,120K,1M,4M (bytes or K/M suffix), --rounds N, --bytes-per-size N
 * (how much each size moves per round, default 32M; at least --min-commands commands, default 16: fewer left the
 * large sizes' ratios swinging by 10-25 % between runs), --only bare|usbms, --no-write,
 * --max-transfer N (usbms's bytes per command; default the largest size), --quirks FLAGS (usbms's overrides),
 * --warmup N (4 KiB commands per op each side runs untimed first, default 1000; see WARMUP below), --port PATH
 * (both sides open the device at that port path: a stick exported through usbip-host and attached back through
 * vhci is listed twice with one VID:PID).
 */
import { openUsbms } from '../../src/open.js';
import { openBareLoop } from './bare-loop.js';
import { parseByteSize } from '../../src/util/size.js';
import { vidPid } from '../../src/util/hex.js';
import { UsbmsArgumentError } from '../../src/util/errors.js';

interface Args {
  vendorId: number; productId: number; sizes: number[]; rounds: number; bytesPerSize: number; minCommands: number;
  only: 'bare' | 'usbms' | undefined; write: boolean; maxTransfer: number | undefined;
  /** usbms's quirk overrides (--quirks), to compare the round-trip savers on one device. */
  quirks: string | undefined;
  warmup: number;
  /** --port: the port path both sides open (else the VID:PID alone names the device). */
  port: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const dev = get('device');
  const m = dev === undefined ? null : /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(dev);
  if (m === null || m[1] === undefined || m[2] === undefined) throw new UsbmsArgumentError('--device VID:PID (hex) is required');
  const only = get('only');
  if (only !== undefined && only !== 'bare' && only !== 'usbms') throw new UsbmsArgumentError('--only bare|usbms');
  const mt = get('max-transfer');
  return {
    vendorId: parseInt(m[1], 16), productId: parseInt(m[2], 16),
    sizes: (get('sizes') ?? '4K,120K,1M,4M').split(',').map((s) => parseByteSize(s)),
    rounds: Number(get('rounds') ?? 3),
    bytesPerSize: parseByteSize(get('bytes-per-size') ?? '32M'),
    minCommands: Number(get('min-commands') ?? 16),
    only, write: !argv.includes('--no-write'),
    maxTransfer: mt === undefined ? undefined : parseByteSize(mt),
    quirks: get('quirks'),
    warmup: Number(get('warmup') ?? 1000),
    port: get('port'),
  };
}

export interface LabSample { who: 'bare' | 'usbms'; op: 'read' | 'write'; bytes: number; commands: number; seconds: number }

/** Commands each round sends before it starts timing, in both: a fresh session's first ones fill its caches. */
const UNTIMED = 2;

/** At least minCommands, about bytesPerSize, at most MAX_COMMANDS (small sizes would take minutes under TCG). */
const MAX_COMMANDS = 100;
function commandsFor(a: Args, size: number): number {
  return Math.max(a.minCommands, Math.min(MAX_COMMANDS, Math.round(a.bytesPerSize / size)));
}

function progress(who: string, op: string, size: number, n: number, secs: number): void {
  process.stderr.write(`  ${who} ${op} ${size}: ${n} commands, ${((secs * 1000) / n).toFixed(2)} ms/command\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] ?? NaN : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** LBAs wrap inside the disk, so any number of commands fits: all start at LBA 2048 (past any partition table). */
function lbaPlan(diskBlocks: number, size: number): (i: number) => number {
  const per = size / 512;
  const slots = Math.max(1, Math.floor((diskBlocks - 2048) / per));
  return (i) => 2048 + (i % slots) * per;
}

async function bareRound(a: Args, sizes: readonly number[], diskBlocks: number, out: LabSample[]): Promise<void> {
  const loop = await openBareLoop(a.vendorId, a.productId, Math.max(...a.sizes), undefined, a.port);
  try {
    for (const size of sizes) {
      const n = commandsFor(a, size);
      const at = lbaPlan(diskBlocks, size);
      for (const op of a.write ? (['read', 'write'] as const) : (['read'] as const)) {
        // Commands are run in runs of contiguous LBAs; the plan wraps, so split where it does.
        for (let i = 0; i < UNTIMED; i++) await loop.run(op, at(i), size, 1);
        let secs = 0;
        for (let i = 0; i < n; i++) secs += await loop.run(op, at(i), size, 1);
        out.push({ who: 'bare', op, bytes: size, commands: n, seconds: secs });
        progress('bare', op, size, n, secs);
      }
    }
  } finally {
    await loop.close();
  }
}

async function usbmsRound(a: Args, sizes: readonly number[], out: LabSample[]): Promise<number> {
  const session = await openSession(a);
  try {
    const disk = await session.openDisk(0, { allowWrite: a.write });
    const blocks = Number(disk.blocks);
    const buf = Buffer.alloc(Math.max(...a.sizes), 0xa5);
    for (const size of sizes) {
      const n = commandsFor(a, size);
      const at = lbaPlan(blocks, size);
      const view = buf.subarray(0, size);
      for (const op of a.write ? (['read', 'write'] as const) : (['read'] as const)) {
        for (let i = 0; i < UNTIMED; i++) {
          if (op === 'read') await disk.read(BigInt(at(i)), size / 512, view);
          else await disk.write(BigInt(at(i)), view);
        }
        let secs = 0;
        for (let i = 0; i < n; i++) {
          const t0 = process.hrtime.bigint();
          if (op === 'read') await disk.read(BigInt(at(i)), size / 512, view);
          else await disk.write(BigInt(at(i)), view);
          secs += Number(process.hrtime.bigint() - t0) / 1e9;
        }
        out.push({ who: 'usbms', op, bytes: size, commands: n, seconds: secs });
        progress('usbms', op, size, n, secs);
      }
    }
    return blocks;
  } finally {
    await session.close();
  }
}

/**
 * JIT warm-up, measured (2026-12-01, EHCI guest): V8 runs a command's path through the disk driver, SCSA and the
 * engine unoptimised for its first ~1,000 commands, 20-30 us from the CSW's completion to the next CBW natively
 * against 3-4.5 us once optimised, and under TCG that is 1-2.5 ms a command (usbms's 4 KiB READs behind EHCI took
 * 9-11.4 ms per command in the first nine rounds of 100, then 7.5-8.3 ms, the bare loop's 7.4-8.5 ms). The timed
 * rounds are meant to measure the steady state; the warm-up's own blocks of 100 are reported (`warmup`), so the
 * cold cost stays visible.
 */
export interface WarmupBlock { who: 'bare' | 'usbms'; op: 'read' | 'write'; block: number; msPerCommand: number }
const WARMUP_BLOCK = 100;
const WARMUP_BYTES = 4096;

async function warmUp(a: Args, blocks: number, out: WarmupBlock[]): Promise<void> {
  const nBlocks = Math.ceil(a.warmup / WARMUP_BLOCK);
  const ops = a.write ? (['read', 'write'] as const) : (['read'] as const);
  if (a.only !== 'bare') {
    const session = await openSession(a);
    try {
      const disk = await session.openDisk(0, { allowWrite: a.write });
      const view = Buffer.alloc(WARMUP_BYTES, 0xa5);
      const at = lbaPlan(blocks, WARMUP_BYTES);
      for (let b = 0; b < nBlocks; b++) {
        for (const op of ops) {
          const t0 = process.hrtime.bigint();
          for (let i = 0; i < WARMUP_BLOCK; i++) {
            if (op === 'read') await disk.read(BigInt(at(i)), WARMUP_BYTES / 512, view);
            else await disk.write(BigInt(at(i)), view);
          }
          out.push({ who: 'usbms', op, block: b, msPerCommand: Number(process.hrtime.bigint() - t0) / 1e6 / WARMUP_BLOCK });
        }
      }
    } finally {
      await session.close();
    }
  }
  if (a.only !== 'usbms') {
    const loop = await openBareLoop(a.vendorId, a.productId, Math.max(...a.sizes), undefined, a.port);
    try {
      for (let b = 0; b < nBlocks; b++) {
        for (const op of ops) {
          const secs = await loop.run(op, 2048, WARMUP_BYTES, WARMUP_BLOCK);
          out.push({ who: 'bare', op, block: b, msPerCommand: (secs * 1000) / WARMUP_BLOCK });
        }
      }
    } finally {
      await loop.close();
    }
  }
  for (const who of ['usbms', 'bare'] as const) {
    for (const op of ops) {
      const xs = out.filter((w) => w.who === who && w.op === op);
      const first = xs[0];
      const last = xs[xs.length - 1];
      if (first !== undefined && last !== undefined) {
        process.stderr.write(`  warm-up ${who} ${op} 4 KiB: first ${WARMUP_BLOCK} ${first.msPerCommand.toFixed(2)} ms/command, `
          + `last ${WARMUP_BLOCK} ${last.msPerCommand.toFixed(2)} ms/command (${xs.length * WARMUP_BLOCK} commands)\n`);
      }
    }
  }
}

/** usbms's session on the device under test, as every round and the warm-up open it. */
function openSession(a: Args): ReturnType<typeof openUsbms> {
  const device = a.port ?? vidPid(a.vendorId, a.productId);
  return openUsbms({ device, maxTransferBytes: a.maxTransfer ?? Math.max(...a.sizes),
    ...(a.quirks === undefined ? {} : { quirks: a.quirks }) });
}

export interface LabFigure { who: string; op: string; bytes: number; msPerCommand: number; mbPerSecond: number; rounds: number }

export function summarize(samples: readonly LabSample[]): LabFigure[] {
  const groups = new Map<string, LabSample[]>();
  for (const s of samples) {
    const k = `${s.who}|${s.op}|${s.bytes}`;
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  return [...groups.values()].map((g) => {
    const first = g[0] as LabSample;
    const ms = median(g.map((s) => (s.seconds * 1000) / s.commands));
    return { who: first.who, op: first.op, bytes: first.bytes, msPerCommand: ms, mbPerSecond: first.bytes / ms / 1000,
      rounds: g.length };
  });
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const samples: LabSample[] = [];
  let blocks = 0;
  // The disk's size comes from usbms's first round; the bare loop needs it only to wrap its LBAs.
  if (a.only !== 'bare') blocks = await usbmsRound(a, a.sizes, []); // warm-up round (JIT, caches), not counted
  else blocks = 65536;
  if (a.only !== 'usbms') await bareRound(a, a.sizes, blocks, []); // warm-up
  const warmup: WarmupBlock[] = [];
  if (a.warmup > 0) await warmUp(a, blocks, warmup);
  // Size by size, the two take turns, and which goes first alternates: under TCG on a shared host one round can
  // run at a third of the speed of the next (the lab saw 1.25 to 4.03 ms for the bare loop's 4 KiB READ between
  // rounds a few seconds apart), so the two figures of one size are measured as close together as they can be.
  for (const size of a.sizes) {
    for (let r = 0; r < a.rounds; r++) {
      const bareFirst = r % 2 === 0;
      if (bareFirst && a.only !== 'usbms') await bareRound(a, [size], blocks, samples);
      if (a.only !== 'bare') await usbmsRound(a, [size], samples);
      if (!bareFirst && a.only !== 'usbms') await bareRound(a, [size], blocks, samples);
    }
  }
  process.stdout.write(`${JSON.stringify({ samples, figures: summarize(samples), warmup })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench lab: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
